//! Where the built gateway components of a workspace are, for the programs around the runtime
//! (the service's demo, the benchmark, the tests, the embedding example). Components built with
//! `cargo build --profile plugin --target wasm32-wasip2` (what `cargo xtask plugins` runs) land in
//! `<target directory>/wasm32-wasip2/plugin/<crate_name>.wasm`.
//!
//! A host that knows its components' paths (a service reading `omnicrm-pay.toml`) needs none of
//! this: it gives [`GatewayConfig::new`](crate::GatewayConfig::new) the path.

use std::path::{Path, PathBuf};

/// The environment variable that names the built components' directory, overriding the search.
pub const COMPONENT_DIR_ENV: &str = "OMNICRM_COMPONENT_DIR";

/// Where the `plugin` profile puts `wasm32-wasip2` builds, under a target directory.
const PLUGIN_OUTPUT: &str = "wasm32-wasip2/plugin";

/// How many directories above the running executable may be its target directory:
/// `target/debug/omnicrm-pay` (1), `target/debug/deps/all-*` or `target/release/examples/embed`
/// (2), with a `--target` triple directory one more.
const TARGET_DIR_DEPTH: usize = 4;

/// The directory of the built components, the first of:
/// - `$OMNICRM_COMPONENT_DIR` ([`COMPONENT_DIR_ENV`]) when set;
/// - `$CARGO_TARGET_DIR/wasm32-wasip2/plugin` when that directory exists;
/// - `wasm32-wasip2/plugin` in the nearest directory above the running executable that has one
///   (the target directory cargo built the executable in);
/// - `target/wasm32-wasip2/plugin`, relative to the working directory.
pub fn component_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(COMPONENT_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let from_cargo =
        std::env::var_os("CARGO_TARGET_DIR").map(|t| Path::new(&t).join(PLUGIN_OUTPUT));
    let beside_executable = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .take(TARGET_DIR_DEPTH)
            .map(|dir| dir.join(PLUGIN_OUTPUT))
            .find(|dir| dir.is_dir())
    });
    from_cargo
        .filter(|dir| dir.is_dir())
        .or(beside_executable)
        .unwrap_or_else(|| Path::new("target").join(PLUGIN_OUTPUT))
}

/// A built component, by crate name (`omnicrm_stripe_gateway` for
/// `omnicrm_stripe_gateway.wasm`), in [`component_dir`].
pub fn component_path(crate_name: &str) -> Result<PathBuf, MissingComponent> {
    let path = component_dir().join(format!("{crate_name}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(MissingComponent { path })
    }
}

/// A component that has not been built (or not where [`component_dir`] looked).
#[derive(Debug, thiserror::Error)]
#[error(
    "component {} is missing: build the plugins first with `cargo xtask plugins` (or set {env} to their directory)",
    .path.display(),
    env = COMPONENT_DIR_ENV
)]
pub struct MissingComponent {
    /// Where the component was looked for.
    pub path: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_component_names_its_path_and_the_command_that_builds_it() {
        let err = component_path("no_such_gateway_component").unwrap_err();
        assert!(
            err.path.ends_with("no_such_gateway_component.wasm"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("no_such_gateway_component.wasm"),
            "{message}"
        );
        assert!(message.contains("cargo xtask plugins"), "{message}");
        assert!(message.contains(COMPONENT_DIR_ENV), "{message}");
    }
}
