//! Shared helpers for the component tests in `tests/`: where the built components and the frozen
//! fixtures are.

use std::path::PathBuf;

/// Where `cargo xtask plugins` puts the built components: `target/wasm32-wasip2/plugin/`, or
/// `$OMNICRM_COMPONENT_DIR` when set.
pub fn component_dir() -> PathBuf {
    match std::env::var_os("OMNICRM_COMPONENT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
            target.join("wasm32-wasip2/plugin")
        }
    }
}

/// The path of a built component, by crate name (`omnicrm_stripe_gateway`); fails with the
/// command that builds it when it is missing.
pub fn component_path(crate_name: &str) -> PathBuf {
    let path = component_dir().join(format!("{crate_name}.wasm"));
    assert!(
        path.exists(),
        "component {} is missing: build the plugins first with `cargo xtask plugins`",
        path.display()
    );
    path
}

/// The path of a frozen test component in `tests/fixtures/components/` (see the README there).
pub fn fixture_path(file_name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/components")
        .join(file_name);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}
