//! Webhooks: a request signed as the gateway signs normalizes to its event; a wrong signature,
//! a stale one and a replay change nothing (refused, or no new event).

use super::{Recorder, fail, not_applicable, pass};
use crate::fixtures::Webhooks;
use crate::kit::{Kit, describe};
use crate::report::Outcome;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use omnicrm_host::contract::{Rejection, WebhookOutcome, WebhookRequest};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) async fn run(kit: &Kit, recorder: &mut Recorder) {
    let Some(webhooks) = &kit.fixtures.webhooks else {
        for (id, promise) in [
            (
                "webhooks.good-normalizes",
                "a correctly signed webhook normalizes to its event",
            ),
            (
                "webhooks.wrong-signature-rejected",
                "a webhook signed with another key is refused",
            ),
            (
                "webhooks.stale-rejected",
                "a webhook signed long ago is refused as outside the tolerance",
            ),
            (
                "webhooks.replay-changes-nothing",
                "a webhook delivered twice is refused or gives the same event id",
            ),
        ] {
            recorder
                .check(id, promise, async {
                    not_applicable("the fixtures give no `[webhooks]` sample")
                })
                .await;
        }
        return;
    };
    let now = unix_now();
    let path = webhooks
        .path
        .clone()
        .unwrap_or_else(|| format!("/webhooks/{}", kit.gateway.name()));
    let good = signed(webhooks, &path, now, &webhooks.secret);
    recorder
        .check(
            "webhooks.good-normalizes",
            "a correctly signed webhook normalizes to its event",
            async {
                match handle(kit, good.clone()).await {
                    Ok(Ok(outcome)) if has_event(&outcome, &webhooks.event_id) => pass(),
                    Ok(Ok(outcome)) => fail(format!(
                        "no event `{}` among {:?}",
                        webhooks.event_id,
                        outcome.events.iter().map(|e| &e.id).collect::<Vec<_>>()
                    )),
                    Ok(Err(rejection)) => fail(format!("refused: {rejection:?}")),
                    Err(e) => fail(e),
                }
            },
        )
        .await;
    recorder
        .check(
            "webhooks.wrong-signature-rejected",
            "a webhook signed with another key is refused",
            async {
                let wrong = format!("{}-not-the-key", webhooks.secret);
                let forged = match webhooks.key_encoding.as_str() {
                    // A key of the same encoding, so that only the MAC differs.
                    "hex" => hex::encode(b"conformance-kit-forged-key-0123"),
                    "base64" => base64::engine::general_purpose::STANDARD
                        .encode(b"conformance-kit-forged-key"),
                    _ => wrong,
                };
                refused(kit, signed(webhooks, &path, now, &forged), |_| true).await
            },
        )
        .await;
    recorder
        .check(
            "webhooks.stale-rejected",
            "a webhook signed long ago is refused as outside the tolerance",
            async {
                let Some(tolerance) = webhooks.tolerance_secs else {
                    return not_applicable(
                        "the fixtures give no `tolerance_secs`: the signature carries no timestamp",
                    );
                };
                let stale =
                    now - i64::try_from(tolerance.saturating_mul(10)).unwrap_or(i64::MAX / 2);
                refused(kit, signed(webhooks, &path, stale, &webhooks.secret), |r| {
                    matches!(r, Rejection::OutsideTolerance)
                })
                .await
            },
        )
        .await;
    recorder
        .check(
            "webhooks.replay-changes-nothing",
            "a webhook delivered twice is refused or gives the same event id (the host deduplicates)",
            async {
                let first = handle(kit, good.clone()).await;
                let again = handle(kit, good).await;
                match (first, again) {
                    (_, Err(e)) | (Err(e), _) => fail(e),
                    (_, Ok(Err(_))) => pass(),
                    (Ok(Ok(a)), Ok(Ok(b))) => {
                        let ids = |o: &WebhookOutcome| o.events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
                        if ids(&a) == ids(&b) {
                            pass()
                        } else {
                            fail(format!("the replay gave new event ids: {:?} then {:?}", ids(&a), ids(&b)))
                        }
                    }
                    (Ok(Err(r)), Ok(Ok(_))) => fail(format!("refused first ({r:?}), accepted when replayed")),
                }
            },
        )
        .await;
}

fn has_event(outcome: &WebhookOutcome, id: &str) -> bool {
    outcome.events.iter().any(|e| e.id == id)
}

async fn handle(
    kit: &Kit,
    request: WebhookRequest,
) -> Result<Result<WebhookOutcome, Rejection>, String> {
    kit.gateway
        .handle_webhook(request)
        .await
        .map_err(|e| describe(&e))
}

/// Refused with a rejection `expected` accepts, or accepted without any event.
async fn refused(
    kit: &Kit,
    request: WebhookRequest,
    expected: impl Fn(&Rejection) -> bool,
) -> Outcome {
    match handle(kit, request).await {
        Ok(Err(r)) if expected(&r) => pass(),
        Ok(Err(r)) => fail(format!("refused, but as {r:?}")),
        Ok(Ok(outcome)) if outcome.events.is_empty() => pass(),
        Ok(Ok(outcome)) => fail(format!(
            "accepted, with events {:?}",
            outcome.events.iter().map(|e| &e.id).collect::<Vec<_>>()
        )),
        Err(e) => fail(e),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The fixture's sample signed at `timestamp` with the key `secret`.
fn signed(webhooks: &Webhooks, path: &str, timestamp: i64, secret: &str) -> WebhookRequest {
    let t = timestamp.to_string();
    let body_unsigned = webhooks.body.replace("{timestamp}", &t);
    let payload = webhooks
        .signed_payload
        .replace("{timestamp}", &t)
        .replace("{body}", &body_unsigned);
    let signature = mac(webhooks, secret, payload.as_bytes());
    let fill = |template: &str| {
        template
            .replace("{timestamp}", &t)
            .replace("{signature}", &signature)
    };
    WebhookRequest {
        method: "POST".into(),
        path: path.into(),
        query: String::new(),
        headers: webhooks
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), fill(value).into_bytes()))
            .collect(),
        body: fill(&webhooks.body).into_bytes(),
    }
}

/// The encoded MAC of `message` with `secret`, as the fixtures describe.
fn mac(webhooks: &Webhooks, secret: &str, message: &[u8]) -> String {
    let key = match webhooks.key_encoding.as_str() {
        "hex" => hex::decode(secret).unwrap_or_else(|_| secret.as_bytes().to_vec()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        _ => secret.as_bytes().to_vec(),
    };
    fn compute<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap_or_else(|_| {
            <M as hmac::digest::KeyInit>::new_from_slice(&[0]).expect("HMAC takes any key")
        });
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    let raw = match webhooks.algorithm.as_str() {
        "hmac-sha512" => compute::<Hmac<sha2::Sha512>>(&key, message),
        "hmac-sha1" => compute::<Hmac<sha1::Sha1>>(&key, message),
        _ => compute::<Hmac<sha2::Sha256>>(&key, message),
    };
    match webhooks.signature_encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD.encode(raw),
        _ => hex::encode(raw),
    }
}
