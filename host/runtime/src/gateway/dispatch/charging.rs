//! `charging`: charges, captures, voids, refunds, customer actions and lookups.

use super::{ContractExports, Outcome, called, loaded, unsupported};
use crate::contract::v0_1::ModificationOf;
use crate::contract::{
    ActionCompletion, CaptureRequest, ChargeRequest, Modification, Payment, PaymentRef, Refund,
    RefundRef, RefundRequest, VoidRequest,
};
use wasmtime::Store;
use wasmtime::component::Instance;

impl ContractExports {
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
                let answer = called(charging.call_charge(store, &request.clone().into()).await)?;
                let up = exports.upgrade();
                Ok(up.result(answer, |p| up.payment(p)))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_charge(store, request).await)
            }
        }
    }

    /// `charging.capture-payment`: 0.1's `capture` (every 0.1 capture is final; the capture's
    /// metadata has no place in 0.1).
    pub(crate) async fn capture_payment<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &CaptureRequest,
    ) -> Outcome<Modification> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                let answer = called(
                    charging
                        .call_capture(
                            store,
                            &request.payment,
                            // 0.1 takes the amount in the payment's currency, which it knows.
                            Some(request.amount.amount),
                            &request.idempotency_key,
                        )
                        .await,
                )?;
                let up = exports.upgrade();
                Ok(up.result(answer, |p| up.modification(p, ModificationOf::Capture)))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_capture_payment(store, request).await)
            }
        }
    }

    /// `charging.void-payment`: 0.1's `cancel` (the void's metadata has no place in 0.1).
    pub(crate) async fn void_payment<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &VoidRequest,
    ) -> Outcome<Modification> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                let answer = called(
                    charging
                        .call_cancel(store, &request.payment, &request.idempotency_key)
                        .await,
                )?;
                let up = exports.upgrade();
                Ok(up.result(answer, |p| up.modification(p, ModificationOf::Void)))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_void_payment(store, request).await)
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
                let answer = called(
                    charging
                        .call_refund_payment(store, &request.clone().into())
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_refund_payment(store, request).await)
            }
        }
    }

    /// `charging.complete-action`. 0.1 has no such function: the customer completed the action
    /// on-session with the gateway's page or SDK, so the payment as it now stands is the answer
    /// (`get-payment`; the completion's details and key are not needed for a lookup).
    pub(crate) async fn complete_action<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &ActionCompletion,
    ) -> Outcome<Payment> {
        match self {
            ContractExports::V0_1(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                let answer = called(charging.call_get_payment(store, &request.payment).await)?;
                let up = exports.upgrade();
                Ok(up.result(answer, |p| up.payment(p)))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_complete_action(store, request).await)
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
                let answer = called(charging.call_get_payment(store, payment).await)?;
                let up = exports.upgrade();
                Ok(up.result(answer, |p| up.payment(p)))
            }
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_get_payment(store, payment).await)
            }
        }
    }

    /// `charging.get-refund`: not in 0.1.
    pub(crate) async fn get_refund<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        refund: &RefundRef,
    ) -> Outcome<Refund> {
        match self {
            ContractExports::V0_1(_) => unsupported("charging.get-refund", "0.1"),
            ContractExports::V0_2(exports) => {
                let charging = loaded(exports.charging.load(&mut *store, instance))?;
                called(charging.call_get_refund(store, refund).await)
            }
        }
    }
}
