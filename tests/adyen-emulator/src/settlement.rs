//! Asynchronous settlement: modifications (and `Received` payments) settle after a delay, by
//! notification, as Adyen's do. The delay is configurable: a duration (default
//! [`crate::DEFAULT_SETTLE_DELAY`]; zero settles right after the answer) or [`crate::SettleDelay::Manual`], where
//! everything waits until a test releases it. Items queued while the delay is manual stay queued
//! until released, even if the delay changes afterwards.

use std::sync::Arc;
use tokio::sync::mpsc;

use crate::modifications;
use crate::payments;
use crate::shared::{SettleDelay, Shared};
use crate::state::{Settle, State};

/// Runs until the queue closes (or the runtime shuts down), settling each item after the delay.
pub async fn run(mut queue: mpsc::UnboundedReceiver<Settle>, shared: Arc<Shared>) {
    while let Some(item) = queue.recv().await {
        match shared.settle_delay() {
            SettleDelay::Manual => {}
            SettleDelay::After(delay) if delay.is_zero() => settle(&mut shared.lock(), &item),
            SettleDelay::After(delay) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    settle(&mut shared.lock(), &item);
                });
            }
        }
    }
}

/// Settles one item now, if it still waits.
pub fn settle(st: &mut State, item: &Settle) {
    let Some(i) = st.unsettled.iter().position(|u| u == item) else {
        return;
    };
    st.unsettled.remove(i);
    match item {
        Settle::Modification(psp) => modifications::settle(st, psp),
        Settle::Authorisation(psp) => payments::settle_received(st, psp),
    }
}

/// Settles everything waiting (or only what concerns `psp`: the modification or payment with that
/// pspReference, or a payment's modifications), in request order; returns how many settled.
pub fn release(st: &mut State, psp: Option<&str>) -> usize {
    let items: Vec<Settle> = st
        .unsettled
        .iter()
        .filter(|item| match (psp, item) {
            (None, _) => true,
            (Some(p), Settle::Authorisation(a)) => a == p,
            (Some(p), Settle::Modification(m)) => {
                m == p
                    || st
                        .modifications
                        .get(m)
                        .is_some_and(|m| m.payment_psp.as_deref() == Some(p))
            }
        })
        .cloned()
        .collect();
    for item in &items {
        settle(st, item);
    }
    items.len()
}
