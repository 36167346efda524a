//! The call dispatch: every function of the contract, called through the bindings of the
//! version the component exports.
//!
//! A component's export indices are resolved once, when it is loaded ([`ContractExports::new`]),
//! and a call loads only the interface it calls (`tokens::GuestIndices::load` and so on). The
//! generated `GatewayPre::instantiate_async` would instead load every export of the world into
//! each new instance: 21 functions found and type-checked per call, a few microseconds on every
//! call for the one function it uses.
//!
//! Type-checking per interface is sound because the check is of the component's types, which
//! every instance of one `InstancePre` shares: the whole world is type-checked once, when the
//! gateway is loaded ([`ContractExports::describe`] loads the world), and the per-call loads
//! repeat only the small check of the interface they use.
//!
//! Supporting another contract version means a variant of [`ContractExports`] and an arm in
//! each method here, converting between its types and the newest ones with `From`.

use crate::contract::{
    BalanceFilter, BalancePage, CardRef, ChargeRequest, ContractVersion, Customer, CustomerRef,
    CustomerRequest, FinancialSummary, GatewayError, GatewayEvent, GatewayInfo, IdempotencyKey,
    Invoice, InvoiceFilter, InvoicePage, InvoiceRef, InvoiceRequest, PageRequest, Payment,
    PaymentRef, Refund, RefundRequest, Rejection, StoredCard, TimeRange, v0_1,
};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

/// Why a call did not return a result.
pub(crate) enum Failure {
    /// The instance could not be created or its exports not loaded: the plugin did not run.
    Instantiate(wasmtime::Error),
    /// The guest trapped or was interrupted.
    Guest(wasmtime::Error),
}

/// What a contract function returns, or why it did not.
pub(crate) type Outcome<T, E = GatewayError> = Result<Result<T, E>, Failure>;

/// The export indices of one loaded component, for the contract version it exports.
pub(crate) enum ContractExports {
    /// A `0.1.x` component.
    V0_1(v0_1::Exports),
}

/// An interface loaded from a new instance, or why not.
fn loaded<G>(interface: wasmtime::Result<G>) -> Result<G, Failure> {
    interface.map_err(Failure::Instantiate)
}

/// A guest call's result, or why there is none.
fn called<R>(result: wasmtime::Result<R>) -> Result<R, Failure> {
    result.map_err(Failure::Guest)
}

impl ContractExports {
    /// Looks every export of `pre`'s component up, with the bindings of `contract`. Fails if
    /// one is missing.
    pub(crate) fn new<T>(
        contract: ContractVersion,
        pre: &InstancePre<T>,
    ) -> wasmtime::Result<Self> {
        Ok(match contract {
            ContractVersion::V0_1 => ContractExports::V0_1(v0_1::Exports::new(pre)?),
        })
    }

    /// `info.describe`. Loads (and so type-checks) every export of the world.
    pub(crate) async fn describe<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
    ) -> Result<GatewayInfo, Failure> {
        match self {
            ContractExports::V0_1(exports) => {
                let world = loaded(exports.world.load(&mut *store, instance))?;
                called(world.omnicrm_payments_info().call_describe(store).await)
            }
        }
    }

    // ---- tokens ----

    /// `tokens.ensure-customer`.
    pub(crate) async fn ensure_customer<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &CustomerRequest,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Customer> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(
                    tokens
                        .call_ensure_customer(store, request, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `tokens.store-card`.
    pub(crate) async fn store_card<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        customer: &CustomerRef,
        token: &str,
        make_default: bool,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<StoredCard> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(
                    tokens
                        .call_store_card(store, customer, token, make_default, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `tokens.list-cards`.
    pub(crate) async fn list_cards<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        customer: &CustomerRef,
    ) -> Outcome<Vec<StoredCard>> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_list_cards(store, customer).await)
            }
        }
    }

    /// `tokens.set-default-card`.
    pub(crate) async fn set_default_card<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        customer: &CustomerRef,
        card: &CardRef,
    ) -> Outcome<()> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_set_default_card(store, customer, card).await)
            }
        }
    }

    /// `tokens.remove-card`.
    pub(crate) async fn remove_card<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        customer: &CustomerRef,
        card: &CardRef,
    ) -> Outcome<()> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_remove_card(store, customer, card).await)
            }
        }
    }

    // ---- charging ----

    /// `charging.charge`.
    pub(crate) async fn charge<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &ChargeRequest,
    ) -> Outcome<Payment> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_charge(store, request).await)
            }
        }
    }

    /// `charging.capture`.
    pub(crate) async fn capture<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        payment: &PaymentRef,
        amount: Option<i64>,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Payment> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(
                    charging
                        .call_capture(store, payment, amount, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `charging.cancel`.
    pub(crate) async fn cancel<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        payment: &PaymentRef,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Payment> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_cancel(store, payment, idempotency_key).await)
            }
        }
    }

    /// `charging.refund-payment`.
    pub(crate) async fn refund_payment<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &RefundRequest,
    ) -> Outcome<Refund> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_refund_payment(store, request).await)
            }
        }
    }

    /// `charging.get-payment`.
    pub(crate) async fn get_payment<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        payment: &PaymentRef,
    ) -> Outcome<Payment> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_get_payment(store, payment).await)
            }
        }
    }

    // ---- invoicing ----

    /// `invoicing.create-invoice`.
    pub(crate) async fn create_invoice<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &InvoiceRequest,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(invoicing.call_create_invoice(store, request).await)
            }
        }
    }

    /// `invoicing.finalize-invoice`.
    pub(crate) async fn finalize_invoice<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        invoice: &InvoiceRef,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(
                    invoicing
                        .call_finalize_invoice(store, invoice, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `invoicing.pay-invoice`.
    pub(crate) async fn pay_invoice<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        invoice: &InvoiceRef,
        card: Option<&CardRef>,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(
                    invoicing
                        .call_pay_invoice(store, invoice, card, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `invoicing.void-invoice`.
    pub(crate) async fn void_invoice<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        invoice: &InvoiceRef,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(
                    invoicing
                        .call_void_invoice(store, invoice, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `invoicing.mark-uncollectible`.
    pub(crate) async fn mark_uncollectible<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        invoice: &InvoiceRef,
        idempotency_key: &IdempotencyKey,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(
                    invoicing
                        .call_mark_uncollectible(store, invoice, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `invoicing.get-invoice`.
    pub(crate) async fn get_invoice<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        invoice: &InvoiceRef,
    ) -> Outcome<Invoice> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(invoicing.call_get_invoice(store, invoice).await)
            }
        }
    }

    /// `invoicing.list-invoices`.
    pub(crate) async fn list_invoices<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        filter: &InvoiceFilter,
        page: &PageRequest,
    ) -> Outcome<InvoicePage> {
        match self {
            ContractExports::V0_1(exports) => {
                let invoicing = loaded(exports.invoicing.load(&mut *store, instance))?;
                called(invoicing.call_list_invoices(store, filter, page).await)
            }
        }
    }

    // ---- metrics ----

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
                called(
                    metrics
                        .call_list_balance_transactions(store, filter, page)
                        .await,
                )
            }
        }
    }

    // ---- webhooks ----

    /// `webhooks.verify-event`.
    pub(crate) async fn verify_event<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        headers: &[(String, Vec<u8>)],
        body: &[u8],
    ) -> Outcome<GatewayEvent, Rejection> {
        match self {
            ContractExports::V0_1(exports) => {
                let webhooks = loaded(exports.webhooks.load(&mut *store, instance))?;
                called(webhooks.call_verify_event(store, headers, body).await)
            }
        }
    }
}
