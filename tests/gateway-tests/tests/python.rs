//! The example gateway written in Python (`plugins/examples/python`, built with componentize-py
//! by `cargo xtask polyglot`): every scenario of `polyglot_scenarios`.

use crate::polyglot_scenarios::Example;

static PYTHON: Example = Example::new(
    "omnicrm_python_example",
    "python-example",
    "Python example gateway",
    "py_",
);

crate::polyglot_tests!(PYTHON);
