//! 3-D Secure 2 as the emulator plays it: the `action` objects of `RedirectShopper`,
//! `IdentifyShopper` and `ChallengeShopper` answers, the pages the shopper "visits"
//! (`/_emulator/threeds/...`, `/_emulator/threeds2/...`), and reading what comes back to
//! `/payments/details`.
//!
//! Shapes follow the Checkout API v71 spec (`CheckoutRedirectAction`: `type: redirect`, `method`
//! GET or POST, `url`, `data`; `CheckoutThreeDS2Action`: `type: threeDS2`, `subtype`
//! `fingerprint` or `challenge`, `token`, `authorisationToken`, `paymentData`) and its examples
//! (`post-payments-card-3d-secure-redirect-200`, `post-payments-card-3d-secure-2-web-200`,
//! `post-payments-details-3d-secure-2-native`). Since v69 the redirect flow is the default; the
//! native flow is chosen with `authenticationData.threeDSRequestData.nativeThreeDS: preferred`.
//!
//! The `redirectResult` is an opaque value the emulator mints when the shopper leaves its page.
//! A `threeDSResult` is Base64 of a JSON object, as Adyen's web SDK builds it: after the
//! fingerprint `{"threeDSCompInd": "Y", "authorisationToken": ...}`, after the challenge
//! `{"transStatus": "Y" | "N", "authorisationToken": ...}`. The emulator's challenge page returns
//! the latter; what the shopper did on the page wins over a `transStatus` sent without visiting it.

use base64::Engine;
use serde_json::{Value, json};

use crate::body::Obj;
use crate::cards::ThreeDs;
use crate::error::ApiError;
use crate::ids;
use crate::state::{PendingAction, Stage, State};

/// How an action is to be completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Native 3-D Secure 2 (`nativeThreeDS: preferred`) rather than a redirect.
    pub native: bool,
    /// `redirectToIssuerMethod: POST`.
    pub post_to_issuer: bool,
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// Starts authentication of payment `psp` (card path `three_ds`); returns the `resultCode` and
/// the `action`.
pub fn start(
    st: &mut State,
    psp: &str,
    three_ds: ThreeDs,
    flow: Flow,
    return_url: &str,
) -> (&'static str, Value) {
    let token = ids::opaque("", 32);
    let stage = if !flow.native {
        Stage::Redirect
    } else if three_ds == ThreeDs::ChallengeOnly {
        Stage::Challenge
    } else {
        Stage::Fingerprint
    };
    st.actions.insert(
        token.clone(),
        PendingAction {
            token: token.clone(),
            psp_reference: psp.to_string(),
            stage,
            outcome: None,
            redirect_result: None,
        },
    );
    action(st, &token, stage, flow, return_url)
}

/// The `resultCode` and `action` of a step.
pub fn action(
    st: &State,
    token: &str,
    stage: Stage,
    flow: Flow,
    return_url: &str,
) -> (&'static str, Value) {
    let base = &st.base_url;
    match stage {
        Stage::Redirect if flow.post_to_issuer => (
            "RedirectShopper",
            json!({
                "data": {
                    "MD": token,
                    "PaReq": ids::opaque("BQABAgA", 40),
                    "TermUrl": return_url,
                },
                "method": "POST",
                "paymentMethodType": "scheme",
                "type": "redirect",
                "url": format!("{base}/_emulator/threeds"),
            }),
        ),
        Stage::Redirect => (
            "RedirectShopper",
            json!({
                "method": "GET",
                "paymentMethodType": "scheme",
                "type": "redirect",
                "url": format!("{base}/_emulator/threeds/{token}"),
            }),
        ),
        Stage::Fingerprint => (
            "IdentifyShopper",
            json!({
                "authorisationToken": token,
                "paymentData": ids::opaque("Ab02b4c0!", 48),
                "paymentMethodType": "scheme",
                "subtype": "fingerprint",
                "token": b64(&json!({
                    "threeDSMethodNotificationURL": format!("{base}/_emulator/threeds2/{token}/fingerprint"),
                    "threeDSMethodUrl": format!("{base}/_emulator/threeds2/{token}/fingerprint"),
                    "threeDSServerTransID": ids::opaque("", 32),
                })),
                "type": "threeDS2",
            }),
        ),
        Stage::Challenge => (
            "ChallengeShopper",
            json!({
                "authorisationToken": token,
                "paymentData": ids::opaque("Ab02b4c0!", 48),
                "paymentMethodType": "scheme",
                "subtype": "challenge",
                "token": b64(&json!({
                    "acsReferenceNumber": "ADYEN-ACS-SIMULATOR",
                    "acsTransID": ids::opaque("", 32),
                    "acsURL": format!("{base}/_emulator/threeds2/{token}"),
                    "messageVersion": "2.2.0",
                    "threeDSServerTransID": ids::opaque("", 32),
                })),
                "type": "threeDS2",
            }),
        ),
    }
}

/// The `threeDSResult` the SDK sends after the device fingerprint.
pub fn fingerprint_result(token: &str) -> String {
    b64(&json!({"threeDSCompInd": "Y", "authorisationToken": token}))
}

/// The `threeDSResult` the SDK sends after a challenge.
pub fn challenge_result(token: &str, authenticated: bool) -> String {
    b64(&json!({
        "transStatus": if authenticated { "Y" } else { "N" },
        "authorisationToken": token,
    }))
}

/// Records what the shopper did on the emulator's page. Returns what goes back to the merchant:
/// the `redirectResult` (redirect flow) or the `threeDSResult` (native challenge).
pub fn record_outcome(
    st: &mut State,
    token: &str,
    authenticated: bool,
) -> Result<String, ApiError> {
    let action = st
        .actions
        .get_mut(token)
        .ok_or_else(|| unknown_action("authentication"))?;
    action.outcome = Some(authenticated);
    match action.stage {
        Stage::Redirect => {
            let result = match &action.redirect_result {
                Some(r) => r.clone(),
                None => {
                    let r = ids::opaque("X6XtfGC3!", 40);
                    action.redirect_result = Some(r.clone());
                    st.redirect_results.insert(r.clone(), token.to_string());
                    r
                }
            };
            Ok(result)
        }
        Stage::Challenge => Ok(challenge_result(token, authenticated)),
        Stage::Fingerprint => Ok(fingerprint_result(token)),
    }
}

/// What a `/payments/details` request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The device fingerprint is done.
    Fingerprinted,
    /// The shopper authenticated (or not).
    Authenticated(bool),
    /// The shopper has not finished the redirect page yet.
    Unfinished,
}

fn unknown_action(what: &str) -> ApiError {
    ApiError::unprocessable(
        "000",
        format!("Invalid payment details: unknown {what} result"),
    )
}

/// Reads `details` (`redirectResult` or `threeDSResult`); returns the action's token and what
/// it says.
pub fn resolve(st: &State, details: &Obj<'_>) -> Result<(String, Completion), ApiError> {
    if let Some(result) = details.non_empty("redirectResult")? {
        let token = st
            .redirect_results
            .get(result)
            .ok_or_else(|| unknown_action("redirectResult"))?;
        let action = st
            .actions
            .get(token)
            .ok_or_else(|| unknown_action("redirectResult"))?;
        let completion = match action.outcome {
            Some(ok) => Completion::Authenticated(ok),
            None => Completion::Unfinished,
        };
        return Ok((token.clone(), completion));
    }
    if let Some(result) = details.non_empty("threeDSResult")? {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(result.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .ok_or_else(|| unknown_action("threeDSResult"))?;
        let token = decoded
            .get("authorisationToken")
            .and_then(Value::as_str)
            .ok_or_else(|| unknown_action("threeDSResult"))?;
        let action = st
            .actions
            .get(token)
            .ok_or_else(|| unknown_action("threeDSResult"))?;
        let completion = match action.stage {
            Stage::Fingerprint => Completion::Fingerprinted,
            _ => Completion::Authenticated(action.outcome.unwrap_or_else(|| {
                decoded.get("transStatus").and_then(Value::as_str) == Some("Y")
            })),
        };
        return Ok((token.to_string(), completion));
    }
    Err(ApiError::unprocessable(
        "000",
        "Invalid payment details: details.redirectResult or details.threeDSResult is required",
    ))
}
