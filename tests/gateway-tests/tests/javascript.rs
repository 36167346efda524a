//! The example gateway written in JavaScript (`plugins/examples/javascript`, built with
//! componentize-js by `cargo xtask polyglot`): every scenario of `polyglot_scenarios`.

use crate::polyglot_scenarios::Example;

static JAVASCRIPT: Example = Example::new(
    "omnicrm_javascript_example",
    "javascript-example",
    "JavaScript example gateway",
    "js_",
);

crate::polyglot_tests!(JAVASCRIPT);
