//! `metrics`: the gateway's own financial figures (optional in 0.2, declared by the `metrics`
//! capability; required in 0.1).

use super::{ContractExports, Outcome, called, loaded, not_exported};
use crate::contract::{BalanceFilter, BalancePage, FinancialSummary, PageRequest, TimeRange};
use wasmtime::Store;
use wasmtime::component::Instance;

impl ContractExports {
    /// `metrics.summarize`.
    pub(crate) async fn summarize<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        range: TimeRange,
        currency: &str,
    ) -> Outcome<FinancialSummary> {
        match self {
            ContractExports::V0_1(exports) => {
                let metrics = loaded(exports.metrics.load(&mut *store, instance))?;
                let answer = called(metrics.call_summarize(store, range.into(), currency).await)?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(metrics) = &exports.metrics else {
                    return not_exported("metrics");
                };
                let metrics = loaded(metrics.load(&mut *store, instance))?;
                called(metrics.call_summarize(store, range, currency).await)
            }
        }
    }

    /// `metrics.list-balance-transactions`.
    pub(crate) async fn list_balance_transactions<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        filter: &BalanceFilter,
        page: &PageRequest,
    ) -> Outcome<BalancePage> {
        match self {
            ContractExports::V0_1(exports) => {
                let metrics = loaded(exports.metrics.load(&mut *store, instance))?;
                let answer = called(
                    metrics
                        .call_list_balance_transactions(
                            store,
                            &filter.clone().into(),
                            &page.clone().into(),
                        )
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(metrics) = &exports.metrics else {
                    return not_exported("metrics");
                };
                let metrics = loaded(metrics.load(&mut *store, instance))?;
                called(
                    metrics
                        .call_list_balance_transactions(store, filter, page)
                        .await,
                )
            }
        }
    }
}
