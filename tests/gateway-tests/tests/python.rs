//! The example gateway written in Python (`plugins/examples/python`, built with componentize-py
//! by `cargo xtask polyglot`): every scenario of `polyglot_scenarios`.

mod polyglot_scenarios;

use polyglot_scenarios::Example;

static PYTHON: Example = Example::new(
    "omnicrm_python_example",
    "python-example",
    "Python example gateway",
    "py_",
);

polyglot_tests!(PYTHON);
