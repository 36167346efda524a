//! Load-time checks of a component against the contract: before linking, what it exports, at
//! which version, and what it imports ([`check`]); once it described itself, whether what it
//! declares matches what it exports ([`check_capabilities`]).

use crate::contract::{
    CONTRACT_PACKAGE, Capabilities, ContractVersion, EXPORT_CAPABILITIES, Version, supported_range,
};
use crate::error::ContractProblem;
use wasmtime::Engine;
use wasmtime::component::Component;

/// WASI 0.2 packages and interfaces the host links (`None` = every interface of the package).
/// Kept in step with `imports::new_linker`.
const PROVIDED_WASI: [(&str, Option<&[&str]>); 7] = [
    ("wasi:cli", None),
    ("wasi:clocks", None),
    ("wasi:filesystem", None),
    ("wasi:io", None),
    ("wasi:random", None),
    ("wasi:sockets", None),
    ("wasi:http", Some(&["types", "outgoing-handler"])),
];

/// The contract a component implements, once it passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compatible {
    /// The version line whose bindings serve it.
    pub(crate) contract: ContractVersion,
    /// The version it exports, as its export names spell it (`0.1.0`): the newest of its
    /// contract exports (a component built from one WIT package exports one version).
    pub(crate) version: String,
    /// The optional interfaces of its version it exports (`invoicing`, `metrics`).
    pub(crate) optional_exports: Vec<&'static str>,
}

/// Splits `ns:pkg/iface@version` into (`ns:pkg`, `iface`, `version`).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

/// `0.2.x` for WASI.
fn wasi_version_supported(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']);
    matches!((parts.next(), parts.next()), (Some("0"), Some("2")))
}

/// The contract `component` implements, or every problem it has against the contract, in a
/// stable order. Type mismatches are found afterwards, by linking.
pub(crate) fn check(
    engine: &Engine,
    component: &Component,
) -> Result<Compatible, Vec<ContractProblem>> {
    let ty = component.component_type();
    let mut problems = Vec::new();

    // The contract's exports: (full name, interface, version).
    let exports: Vec<(&str, &str, Option<&str>)> = ty
        .exports(engine)
        .filter_map(|(name, _)| {
            let (package, interface, version) = split_name(name)?;
            (package == CONTRACT_PACKAGE).then_some((name, interface, version))
        })
        .collect();
    // The component's version: the newest supported one among its contract exports.
    let exported = exports
        .iter()
        .filter_map(|&(_, _, version)| {
            let version = version?;
            Some((ContractVersion::of(version)?, version))
        })
        .max_by_key(|&(_, version)| Version::parse(version));
    let contract = exported.map_or(ContractVersion::LATEST, |(line, _)| line);

    // Whether `wanted` is exported at the component's version; exports of it at other versions
    // are problems.
    let find = |wanted: &str| {
        let mut found = false;
        let mut wrong_versions = Vec::new();
        for &(name, interface, version) in &exports {
            if interface != wanted {
                continue;
            }
            match version {
                Some(v) if ContractVersion::of(v) == Some(contract) => found = true,
                found_version => wrong_versions.push(ContractProblem::WrongVersion {
                    export: name.to_string(),
                    found: found_version.unwrap_or("(none)").to_string(),
                    supported: supported_range(),
                }),
            }
        }
        (found, wrong_versions)
    };
    for &required in contract.required_exports() {
        let (found, wrong_versions) = find(required);
        if !found {
            if wrong_versions.is_empty() {
                problems.push(ContractProblem::MissingExport {
                    interface: format!("{CONTRACT_PACKAGE}/{required}@{}", contract.range()),
                });
            } else {
                problems.extend(wrong_versions);
            }
        }
    }
    let mut optional_exports = Vec::new();
    for &optional in contract.optional_exports() {
        let (found, wrong_versions) = find(optional);
        if found {
            optional_exports.push(optional);
        } else {
            problems.extend(wrong_versions);
        }
    }

    for (name, _) in ty.imports(engine) {
        if !import_provided(name) {
            problems.push(ContractProblem::UnsupportedImport {
                import: name.to_string(),
            });
        }
    }
    match exported {
        Some((contract, version)) if problems.is_empty() => Ok(Compatible {
            contract,
            version: version.to_string(),
            optional_exports,
        }),
        _ => Err(problems),
    }
}

/// What a component declares (`capabilities`, from `info.describe`) against what it exports
/// (`compatible`, from [`check`]): a capability declared without its interface is a problem; an
/// interface exported but not declared is allowed and logged for `gateway`, and the host does
/// not call it.
pub(crate) fn check_capabilities(
    gateway: &str,
    compatible: &Compatible,
    capabilities: Capabilities,
) -> Result<(), Vec<ContractProblem>> {
    let contract = compatible.contract;
    let exported = |interface: &str| {
        contract.required_exports().contains(&interface)
            || compatible.optional_exports.contains(&interface)
    };
    let mut problems = Vec::new();
    for (capability, interface) in EXPORT_CAPABILITIES {
        match (capabilities.contains(capability), exported(interface)) {
            (true, false) => problems.push(ContractProblem::DeclaredNotExported {
                capability: capability.name(),
                interface: format!("{CONTRACT_PACKAGE}/{interface}@{}", contract.range()),
            }),
            (false, true) => tracing::info!(
                gateway,
                interface,
                "the plugin exports `{interface}` without declaring the `{}` capability: it is not called",
                capability.name()
            ),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn import_provided(name: &str) -> bool {
    let Some((package, interface, version)) = split_name(name) else {
        return false;
    };
    let Some(version) = version else {
        return false;
    };
    if package == CONTRACT_PACKAGE {
        return ContractVersion::of(version)
            .is_some_and(|line| line.provided_imports().contains(&interface));
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

    /// A component exporting each of `interfaces` (empty instances) at its version.
    fn component(engine: &Engine, interfaces: &[(&str, &str)]) -> Component {
        let mut wat = String::from("(component\n");
        for (i, (interface, version)) in interfaces.iter().enumerate() {
            wat.push_str(&format!(
                "  (instance $i{i})\n  (export \"{CONTRACT_PACKAGE}/{interface}@{version}\" (instance $i{i}))\n"
            ));
        }
        wat.push(')');
        Component::new(engine, wat).unwrap()
    }

    fn all_at(contract: ContractVersion, version: &str) -> Vec<(&'static str, &str)> {
        contract
            .required_exports()
            .iter()
            .map(|interface| (*interface, version))
            .collect()
    }

    #[test]
    fn the_version_is_read_from_the_exports() {
        let engine = Engine::default();
        let compatible = check(
            &engine,
            &component(&engine, &all_at(ContractVersion::V0_1, "0.1.3")),
        )
        .unwrap();
        assert_eq!(compatible.contract, ContractVersion::V0_1);
        assert_eq!(compatible.version, "0.1.3");
        assert!(compatible.optional_exports.is_empty());

        // Interfaces of one line at different patch versions: the newest is reported.
        let mut mixed = all_at(ContractVersion::V0_1, "0.1.0");
        mixed[2].1 = "0.1.4";
        let compatible = check(&engine, &component(&engine, &mixed)).unwrap();
        assert_eq!(compatible.version, "0.1.4");

        let compatible = check(
            &engine,
            &component(&engine, &all_at(ContractVersion::V0_2, "0.2.0")),
        )
        .unwrap();
        assert_eq!(compatible.contract, ContractVersion::V0_2);
        assert_eq!(compatible.version, "0.2.0");
        assert!(compatible.optional_exports.is_empty());
    }

    #[test]
    fn optional_interfaces_of_0_2_are_found() {
        let engine = Engine::default();
        let mut with_metrics = all_at(ContractVersion::V0_2, "0.2.0");
        with_metrics.push(("metrics", "0.2.1"));
        let compatible = check(&engine, &component(&engine, &with_metrics)).unwrap();
        assert_eq!(compatible.optional_exports, ["metrics"]);
        assert_eq!(compatible.version, "0.2.1");

        // An optional interface at another version is a problem, not an absence.
        let mut stale = all_at(ContractVersion::V0_2, "0.2.0");
        stale.push(("invoicing", "0.1.0"));
        let problems = check(&engine, &component(&engine, &stale)).unwrap_err();
        assert_eq!(
            problems,
            [ContractProblem::WrongVersion {
                export: "omnicrm:payments/invoicing@0.1.0".into(),
                found: "0.1.0".into(),
                supported: "0.1.x or 0.2.x".into(),
            }]
        );
    }

    #[test]
    fn problems_quote_the_supported_range() {
        let engine = Engine::default();
        let problems = check(
            &engine,
            &component(&engine, &all_at(ContractVersion::V0_2, "0.3.0")),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(
            problems[0].to_string(),
            "exports omnicrm:payments/info@0.3.0 but this host supports 0.1.x or 0.2.x"
        );

        let mut missing = all_at(ContractVersion::V0_1, "0.1.0");
        missing.retain(|(interface, _)| *interface != "metrics");
        let problems = check(&engine, &component(&engine, &missing)).unwrap_err();
        assert_eq!(
            problems,
            [ContractProblem::MissingExport {
                interface: "omnicrm:payments/metrics@0.1.x".into()
            }]
        );

        // Nothing of the contract: checked against the newest version.
        let problems = check(&engine, &component(&engine, &[])).unwrap_err();
        let missing: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            missing,
            [
                "missing export omnicrm:payments/info@0.2.x",
                "missing export omnicrm:payments/tokens@0.2.x",
                "missing export omnicrm:payments/charging@0.2.x",
                "missing export omnicrm:payments/webhooks@0.2.x",
            ]
        );
    }

    fn compatible(contract: ContractVersion, optional: &[&'static str]) -> Compatible {
        Compatible {
            contract,
            version: "0.2.0".into(),
            optional_exports: optional.to_vec(),
        }
    }

    #[test]
    fn declared_capabilities_need_their_exports() {
        let core = compatible(ContractVersion::V0_2, &[]);
        assert_eq!(
            check_capabilities("g", &core, Capabilities::PAYMENT_LOOKUP),
            Ok(())
        );
        let problems =
            check_capabilities("g", &core, Capabilities::INVOICING | Capabilities::METRICS)
                .unwrap_err();
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "declares the capability `invoicing` but does not export omnicrm:payments/invoicing@0.2.x",
                "declares the capability `metrics` but does not export omnicrm:payments/metrics@0.2.x",
            ]
        );
        // Exported without being declared: allowed (and not called).
        let full = compatible(ContractVersion::V0_2, &["invoicing", "metrics"]);
        assert_eq!(
            check_capabilities("g", &full, Capabilities::empty()),
            Ok(())
        );
        assert_eq!(
            check_capabilities("g", &full, Capabilities::INVOICING | Capabilities::METRICS),
            Ok(())
        );
        // 0.1 exports both.
        let old = compatible(ContractVersion::V0_1, &[]);
        assert_eq!(
            check_capabilities("g", &old, crate::contract::v0_1::capabilities()),
            Ok(())
        );
    }

    #[test]
    fn wasi_versions() {
        assert!(wasi_version_supported("0.2.12"));
        assert!(!wasi_version_supported("0.3.0-rc"));
    }

    #[test]
    fn imports() {
        assert!(import_provided("wasi:http/outgoing-handler@0.2.12"));
        assert!(import_provided("wasi:http/types@0.2.0"));
        assert!(import_provided("wasi:cli/stderr@0.2.6"));
        assert!(import_provided("omnicrm:payments/credentials@0.1.0"));
        assert!(import_provided("omnicrm:payments/credentials@0.2.0"));
        assert!(import_provided("omnicrm:payments/types@0.2.3"));
        assert!(!import_provided("wasi:http/incoming-handler@0.2.12"));
        assert!(!import_provided("omnicrm:payments/credentials@0.3.0"));
        assert!(!import_provided("omnicrm:payments/charging@0.2.0"));
        assert!(!import_provided("acme:evil/backdoor@1.0.0"));
        assert!(!import_provided("random-name"));
    }
}
