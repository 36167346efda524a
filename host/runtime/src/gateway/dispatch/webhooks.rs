//! `webhooks`: requests the gateway sends, verified and normalized by the plugin.

use super::{ContractExports, Outcome, called, loaded};
use crate::contract::v0_1;
use crate::contract::{Rejection, WebhookOutcome, WebhookRequest};
use wasmtime::Store;
use wasmtime::component::Instance;

impl ContractExports {
    /// `webhooks.handle-webhook`; for 0.1, `verify-event` on the request's headers and body,
    /// its one event answered as 0.1 hosts answered (`200 {"received":true}`).
    pub(crate) async fn handle_webhook<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: &WebhookRequest,
    ) -> Outcome<WebhookOutcome, Rejection> {
        match self {
            ContractExports::V0_1(exports) => {
                let webhooks = loaded(exports.webhooks.load(&mut *store, instance))?;
                let verdict = called(
                    webhooks
                        .call_verify_event(store, &request.headers, &request.body)
                        .await,
                )?;
                Ok(verdict.map(v0_1::webhook_outcome).map_err(Into::into))
            }
            ContractExports::V0_2(exports) => {
                let webhooks = loaded(exports.webhooks.load(&mut *store, instance))?;
                called(webhooks.call_handle_webhook(store, request).await)
            }
        }
    }
}
