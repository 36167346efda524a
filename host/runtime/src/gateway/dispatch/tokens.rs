//! `tokens`: customers, stored cards and card sessions.

use super::{ContractExports, Outcome, called, loaded, unsupported};
use crate::contract::{
    CardRef, CardSession, CardSessionRequest, Customer, CustomerRef, CustomerRequest,
    IdempotencyKey, StoreCardRequest, StoredCard,
};
use wasmtime::Store;
use wasmtime::component::Instance;

impl ContractExports {
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
                let answer = called(
                    tokens
                        .call_ensure_customer(store, &request.clone().into(), idempotency_key)
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(
                    tokens
                        .call_ensure_customer(store, request, idempotency_key)
                        .await,
                )
            }
        }
    }

    /// `tokens.store-card`. 0.1 takes no return URL.
    pub(crate) async fn store_card<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &StoreCardRequest,
    ) -> Outcome<StoredCard> {
        match self {
            ContractExports::V0_1(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                let answer = called(
                    tokens
                        .call_store_card(
                            store,
                            &request.customer,
                            &request.token,
                            request.make_default,
                            &request.idempotency_key,
                        )
                        .await,
                )?;
                Ok(exports.upgrade().result(answer, Into::into))
            }
            ContractExports::V0_2(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_store_card(store, request).await)
            }
        }
    }

    /// `tokens.start-card-session`: not in 0.1.
    pub(crate) async fn start_card_session<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &CardSessionRequest,
    ) -> Outcome<CardSession> {
        match self {
            ContractExports::V0_1(_) => unsupported("tokens.start-card-session", "0.1"),
            ContractExports::V0_2(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_start_card_session(store, request).await)
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
                let answer = called(tokens.call_list_cards(store, customer).await)?;
                Ok(exports
                    .upgrade()
                    .result(answer, |cards| cards.into_iter().map(Into::into).collect()))
            }
            ContractExports::V0_2(exports) => {
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
                let answer = called(tokens.call_set_default_card(store, customer, card).await)?;
                Ok(exports.upgrade().result(answer, |()| ()))
            }
            ContractExports::V0_2(exports) => {
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
                let answer = called(tokens.call_remove_card(store, customer, card).await)?;
                Ok(exports.upgrade().result(answer, |()| ()))
            }
            ContractExports::V0_2(exports) => {
                let tokens = loaded(exports.tokens.load(&mut *store, instance))?;
                called(tokens.call_remove_card(store, customer, card).await)
            }
        }
    }
}
