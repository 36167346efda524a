//! Shared helpers for the component tests in `tests/`: where the built components and the frozen
//! fixtures are.

use std::path::PathBuf;

/// Where the built components are (see [`omnicrm_host::built::component_dir`]:
/// `$OMNICRM_COMPONENT_DIR`, or `wasm32-wasip2/plugin` of the target directory).
pub fn component_dir() -> PathBuf {
    omnicrm_host::built::component_dir()
}

/// The path of a built component, by crate name (`omnicrm_stripe_gateway`); fails with the
/// command that builds it when it is missing.
pub fn component_path(crate_name: &str) -> PathBuf {
    omnicrm_host::built::component_path(crate_name).unwrap_or_else(|missing| panic!("{missing}"))
}

/// The path of a frozen test component in `tests/fixtures/components/` (see the README there).
pub fn fixture_path(file_name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/components")
        .join(file_name);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}
