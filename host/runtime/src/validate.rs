//! Load-time checks of a component against the contract, before linking: what it exports, at
//! which version, and what it imports.

use crate::contract::CONTRACT_PACKAGE;
use crate::error::ContractProblem;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The interfaces a gateway must export.
pub(crate) const REQUIRED_EXPORTS: [&str; 6] = [
    "info",
    "tokens",
    "charging",
    "invoicing",
    "metrics",
    "webhooks",
];

/// The contract interfaces the host provides to plugins.
const PROVIDED_CONTRACT_IMPORTS: [&str; 5] =
    ["types", "config", "logging", "credentials", "call-context"];

/// WASI 0.2 packages and interfaces the host links (`None` = every interface of the package).
const PROVIDED_WASI: [(&str, Option<&[&str]>); 7] = [
    ("wasi:cli", None),
    ("wasi:clocks", None),
    ("wasi:filesystem", None),
    ("wasi:io", None),
    ("wasi:random", None),
    ("wasi:sockets", None),
    ("wasi:http", Some(&["types", "outgoing-handler"])),
];

/// Splits `ns:pkg/iface@version` into (`ns:pkg`, `iface`, `version`).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

/// `0.1.x` for the contract.
fn contract_version_supported(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']);
    matches!((parts.next(), parts.next()), (Some("0"), Some("1")))
}

/// `0.2.x` for WASI.
fn wasi_version_supported(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']);
    matches!((parts.next(), parts.next()), (Some("0"), Some("2")))
}

/// Every problem of `component` against the contract, in a stable order. Empty when it may be
/// linked (type mismatches are found afterwards, by linking).
pub(crate) fn check(engine: &Engine, component: &Component) -> Vec<ContractProblem> {
    let ty = component.component_type();
    let mut problems = Vec::new();

    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    for required in REQUIRED_EXPORTS {
        let mut found_supported = false;
        let mut wrong_versions = Vec::new();
        for name in &exports {
            let Some((package, interface, version)) = split_name(name) else {
                continue;
            };
            if package != CONTRACT_PACKAGE || interface != required {
                continue;
            }
            match version {
                Some(v) if contract_version_supported(v) => found_supported = true,
                Some(v) => wrong_versions.push(ContractProblem::WrongVersion {
                    export: name.to_string(),
                    found: v.to_string(),
                    supported: "0.1.x".to_string(),
                }),
                None => wrong_versions.push(ContractProblem::WrongVersion {
                    export: name.to_string(),
                    found: "(none)".to_string(),
                    supported: "0.1.x".to_string(),
                }),
            }
        }
        if !found_supported {
            if wrong_versions.is_empty() {
                problems.push(ContractProblem::MissingExport {
                    interface: format!("{CONTRACT_PACKAGE}/{required}@0.1.x"),
                });
            } else {
                problems.extend(wrong_versions);
            }
        }
    }

    for (name, _) in ty.imports(engine) {
        if !import_provided(name) {
            problems.push(ContractProblem::UnsupportedImport {
                import: name.to_string(),
            });
        }
    }
    problems
}

fn import_provided(name: &str) -> bool {
    let Some((package, interface, version)) = split_name(name) else {
        return false;
    };
    let Some(version) = version else {
        return false;
    };
    if package == CONTRACT_PACKAGE {
        return contract_version_supported(version)
            && PROVIDED_CONTRACT_IMPORTS.contains(&interface);
    }
    PROVIDED_WASI.iter().any(|(pkg, interfaces)| {
        *pkg == package
            && wasi_version_supported(version)
            && interfaces.is_none_or(|list| list.contains(&interface))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(contract_version_supported("0.1.0"));
        assert!(contract_version_supported("0.1.7"));
        assert!(!contract_version_supported("0.2.0"));
        assert!(!contract_version_supported("1.1.0"));
        assert!(wasi_version_supported("0.2.12"));
        assert!(!wasi_version_supported("0.3.0-rc"));
    }

    #[test]
    fn imports() {
        assert!(import_provided("wasi:http/outgoing-handler@0.2.12"));
        assert!(import_provided("wasi:http/types@0.2.0"));
        assert!(import_provided("wasi:cli/stderr@0.2.6"));
        assert!(import_provided("omnicrm:payments/credentials@0.1.0"));
        assert!(!import_provided("wasi:http/incoming-handler@0.2.12"));
        assert!(!import_provided("omnicrm:payments/credentials@0.2.0"));
        assert!(!import_provided("acme:evil/backdoor@1.0.0"));
        assert!(!import_provided("random-name"));
    }
}
