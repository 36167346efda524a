//! `invoicing`: invoices kept at the gateway (optional in 0.2, declared by the `invoicing`
//! capability; required in 0.1).

use super::{ContractExports, Outcome, called, loaded, not_exported};
use crate::contract::{
    CardRef, IdempotencyKey, Invoice, InvoiceFilter, InvoicePage, InvoiceRef, InvoiceRequest,
    PageRequest,
};
use wasmtime::Store;
use wasmtime::component::Instance;

impl ContractExports {
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
                let answer = called(
                    invoicing
                        .call_create_invoice(store, &request.clone().into())
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(
                    invoicing
                        .call_finalize_invoice(store, invoice, idempotency_key)
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(
                    invoicing
                        .call_pay_invoice(store, invoice, card, idempotency_key)
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(
                    invoicing
                        .call_void_invoice(store, invoice, idempotency_key)
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(
                    invoicing
                        .call_mark_uncollectible(store, invoice, idempotency_key)
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(invoicing.call_get_invoice(store, invoice).await)?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
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
                let answer = called(
                    invoicing
                        .call_list_invoices(store, &filter.clone().into(), &page.clone().into())
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let Some(invoicing) = &exports.invoicing else {
                    return not_exported("invoicing");
                };
                let invoicing = loaded(invoicing.load(&mut *store, instance))?;
                called(invoicing.call_list_invoices(store, filter, page).await)
            }
        }
    }
}
