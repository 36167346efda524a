//! The call dispatch: every function of the contract, called through the bindings of the
//! version the component exports, with the newest version's types in and out (a 0.1 component's
//! requests and answers converted by `contract::v0_1`). One module per interface (`tokens`,
//! `charging`, `invoicing`, `metrics`, `webhooks`), one arm per version in each function.
//!
//! A component's export indices are resolved once, when it is loaded ([`ContractExports::new`]),
//! and a call loads only the interface it calls (`tokens::GuestIndices::load` and so on). The
//! generated `instantiate_async` of a world would instead load every export into each new
//! instance: dozens of functions found and type-checked per call, a few microseconds on every
//! call for the one function it uses.
//!
//! Type-checking per interface is sound because the check is of the component's types, which
//! every instance of one `InstancePre` shares: every export is type-checked once, when the
//! gateway is loaded ([`ContractExports::describe`] loads them all), and the per-call loads
//! repeat only the small check of the interface they use.
//!
//! An optional interface a 0.2 component does not export, or a function 0.1 does not have,
//! answers `unsupported`; the gateway does not even start such a call for a capability the
//! plugin did not declare.

mod charging;
mod invoicing;
mod metrics;
mod tokens;
mod webhooks;

use crate::contract::{ContractVersion, GatewayError, GatewayInfo, v0_1, v0_2};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

/// Why a call did not return a result.
pub(crate) enum Failure {
    /// The instance could not be created or its exports not loaded: the plugin did not run.
    Instantiate(wasmtime::Error),
    /// The guest trapped or was interrupted.
    Guest(wasmtime::Error),
    /// The host stopped the call: it went over its host buffer budget, or a response reflected
    /// a credential the host added.
    Stopped,
}

/// What a contract function returns, or why it did not.
pub(crate) type Outcome<T, E = GatewayError> = Result<Result<T, E>, Failure>;

/// The export indices of one loaded component, for the contract version it exports.
pub(crate) enum ContractExports {
    /// A `0.1.x` component. (Both are boxed: their indices take hundreds of bytes, and the
    /// variants differ in size.)
    V0_1(Box<v0_1::Exports>),
    /// A `0.2.x` component.
    V0_2(Box<v0_2::Exports>),
}

/// An interface loaded from a new instance, or why not.
fn loaded<G>(interface: wasmtime::Result<G>) -> Result<G, Failure> {
    interface.map_err(Failure::Instantiate)
}

/// A guest call's result, or why there is none.
fn called<R>(result: wasmtime::Result<R>) -> Result<R, Failure> {
    result.map_err(Failure::Guest)
}

/// The answer of a function the component's version does not have: `unsupported`, naming it.
fn unsupported<T>(function: &str, version: &str) -> Outcome<T> {
    Ok(Err(GatewayError::Unsupported(format!(
        "{function} is not part of contract {version}"
    ))))
}

/// The answer of an optional interface the component does not export.
fn not_exported<T>(interface: &str) -> Outcome<T> {
    Ok(Err(GatewayError::Unsupported(format!(
        "the plugin does not export `{interface}`"
    ))))
}

impl ContractExports {
    /// Looks the exports of `pre`'s component up, with the bindings of `contract`: the required
    /// ones and the optional ones it exports (`optional`, as validation found them). Fails if
    /// one is missing.
    pub(crate) fn new<T>(
        contract: ContractVersion,
        pre: &InstancePre<T>,
        optional: &[&str],
    ) -> wasmtime::Result<Self> {
        Ok(match contract {
            ContractVersion::V0_1 => ContractExports::V0_1(Box::new(v0_1::Exports::new(pre)?)),
            ContractVersion::V0_2 => {
                ContractExports::V0_2(Box::new(v0_2::Exports::new(pre, optional)?))
            }
        })
    }

    /// `info.describe`. Loads (and so type-checks) every export of the component.
    pub(crate) async fn describe<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
    ) -> Result<GatewayInfo, Failure> {
        match self {
            ContractExports::V0_1(exports) => {
                let world = loaded(exports.world.load(&mut *store, instance))?;
                let info = called(world.omnicrm_payments_info().call_describe(store).await)?;
                exports.described_as(&info.name);
                Ok(info.into())
            }
            ContractExports::V0_2(exports) => {
                loaded(exports.tokens.load(&mut *store, instance))?;
                loaded(exports.charging.load(&mut *store, instance))?;
                loaded(exports.webhooks.load(&mut *store, instance))?;
                if let Some(invoicing) = &exports.invoicing {
                    loaded(invoicing.load(&mut *store, instance))?;
                }
                if let Some(metrics) = &exports.metrics {
                    loaded(metrics.load(&mut *store, instance))?;
                }
                let info = loaded(exports.info.load(&mut *store, instance))?;
                called(info.call_describe(store).await)
            }
        }
    }
}
