//! Network faults injected into every request of a charge: the plugin classifies each as the
//! contract says (nothing sent: `not-attempted`; maybe acted on: `outcome-unknown`; 429:
//! `rate-limited` with its wait), retries only what is safe (a request the gateway may have acted
//! on only with the same idempotency key; a 429 not before its `Retry-After`), answers within
//! its deadline, and repeating the charge with the same key afterwards settles it once.

use super::{Recorder, fail, not_applicable, pass};
use crate::faults::Fault;
use crate::kit::{Kit, Payer, describe};
use crate::report::Outcome;
use crate::wiretap::Recorded;
use omnicrm_host::CallError;
use omnicrm_host::contract::{CaptureMode, GatewayError, Payment};
use std::time::Duration;

pub(crate) async fn run(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    let settings = &kit.fixtures.faults;
    let cases = [
        (
            "faults.connection-refused",
            "a refused connection is not-attempted (retries allowed)",
            Fault::ConnectionRefused,
        ),
        (
            "faults.reset-after-send",
            "a connection reset after the request was sent is outcome-unknown, retried only with the same key",
            Fault::ResetAfterSending,
        ),
        (
            "faults.server-error",
            "an HTTP 500 is outcome-unknown, retried only with the same key",
            Fault::ServerError,
        ),
        (
            "faults.rate-limited",
            "an HTTP 429 with Retry-After is rate-limited with that wait, never retried sooner",
            Fault::RateLimited {
                retry_after_secs: settings.retry_after_secs,
            },
        ),
        (
            "faults.slow-response",
            "a slow answer is waited for or outcome-unknown, within the deadline, retried only with the same key",
            Fault::SlowResponse(Duration::from_millis(settings.slow_response_ms)),
        ),
    ];
    for (id, promise, fault) in cases {
        recorder
            .check(id, promise, faulted_charge(kit, payer, fault))
            .await;
    }
}

async fn faulted_charge(kit: &Kit, payer: &Payer, fault: Fault) -> Outcome {
    let g = &kit.gateway;
    let key = kit.key("fault");
    let request = kit.charge_request(payer, kit.fixtures.amount, CaptureMode::Automatic, &key);
    let mark = kit.wiretap.mark();
    kit.wiretap.arm(Some(fault));
    let result = g.charge(request.clone()).await;
    kit.wiretap.arm(None);
    let sent = kit.wiretap.since(mark);
    if sent.is_empty() {
        return not_applicable("the charge sent no HTTP request: there is nothing to fault");
    }
    if let Err(problem) = classified(fault, &result) {
        return fail(problem);
    }
    if let Err(problem) = retries_are_safe(fault, &sent) {
        return fail(problem);
    }
    // Settling: the same key without the fault answers the charge, the same on a second repeat.
    let settled = match g.charge(request.clone()).await {
        Ok(p) => p,
        Err(e) => {
            return fail(format!(
                "repeating the charge with the same key afterwards failed: {}",
                describe(&e)
            ));
        }
    };
    if let Ok(first) = &result
        && first.id != settled.id
    {
        return fail(format!(
            "the repeat with the same key charged again: payment {} then {}",
            first.id, settled.id
        ));
    }
    match g.charge(request).await {
        Ok(again) if again.id == settled.id => pass(),
        Ok(again) => fail(format!(
            "the second repeat with the same key charged again: payment {} then {}",
            settled.id, again.id
        )),
        Err(e) => fail(format!("the second repeat failed: {}", describe(&e))),
    }
}

/// Whether the call's result is what the fault calls for.
fn classified(fault: Fault, result: &Result<Payment, CallError>) -> Result<(), String> {
    let got = match result {
        Ok(p) => format!("a payment ({} {:?})", p.id, p.status),
        Err(e) => describe(e),
    };
    match (fault, result) {
        (_, Err(e @ (CallError::Timeout { .. } | CallError::Trap(_) | CallError::Host(_)))) => {
            Err(format!("the call did not answer: {}", describe(e)))
        }
        (Fault::ConnectionRefused, Err(CallError::Gateway(GatewayError::NotAttempted(_)))) => {
            Ok(())
        }
        (Fault::ConnectionRefused, _) => Err(format!(
            "nothing reached the gateway: expected not-attempted, got {got}"
        )),
        (
            Fault::ResetAfterSending | Fault::ServerError,
            Err(CallError::Gateway(GatewayError::OutcomeUnknown(_))),
        ) => Ok(()),
        (Fault::ResetAfterSending | Fault::ServerError, _) => Err(format!(
            "the gateway may have acted: expected outcome-unknown, got {got}"
        )),
        (
            Fault::RateLimited { retry_after_secs },
            Err(CallError::Gateway(GatewayError::RateLimited(r))),
        ) => match r.retry_after_ms {
            Some(ms) if ms == retry_after_secs * 1000 => Ok(()),
            other => Err(format!(
                "rate-limited, but retry-after-ms is {other:?}, not the {} the gateway asked for",
                retry_after_secs * 1000
            )),
        },
        (Fault::RateLimited { .. }, _) => Err(format!("expected rate-limited, got {got}")),
        (
            Fault::SlowResponse(_),
            Ok(_) | Err(CallError::Gateway(GatewayError::OutcomeUnknown(_))),
        ) => Ok(()),
        (Fault::SlowResponse(_), _) => Err(format!(
            "the gateway acted on the slow request: expected the payment or outcome-unknown, got {got}"
        )),
    }
}

/// Whether every repeat of a request was safe: after a fault the gateway may have acted on, a
/// request to the same method and URL carries the same idempotency key as the first; after a
/// 429, it waits at least `Retry-After`.
fn retries_are_safe(fault: Fault, sent: &[Recorded]) -> Result<(), String> {
    for (i, retry) in sent.iter().enumerate() {
        let Some(first) = sent[..i]
            .iter()
            .find(|r| r.method == retry.method && r.url == retry.url)
        else {
            continue;
        };
        if retry.method == "GET" {
            continue;
        }
        if fault.may_have_acted() {
            match (&first.idempotency_key, &retry.idempotency_key) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => {
                    return Err(format!(
                        "{} {} was sent again after the gateway may have acted on it, with idempotency key {:?} then {:?}",
                        retry.method, retry.url, a, b
                    ));
                }
            }
        }
        if let Fault::RateLimited { retry_after_secs } = fault {
            let previous = sent[..i]
                .iter()
                .rev()
                .find(|r| r.method == retry.method && r.url == retry.url)
                .unwrap_or(first);
            let waited = retry.at.duration_since(previous.at);
            if waited < Duration::from_secs(retry_after_secs) {
                return Err(format!(
                    "{} {} was retried after {} ms, before the Retry-After of {retry_after_secs} s",
                    retry.method,
                    retry.url,
                    waited.as_millis()
                ));
            }
        }
    }
    Ok(())
}
