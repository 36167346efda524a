//! `webhooks`: Adyen's standard notifications. Every item of a batch is verified with the host's
//! MAC service before it is read, normalized into the contract's events, and the batch is
//! answered `[accepted]`.
//!
//! Verification is per item, because Adyen signs items, not requests: `hmacSignature` is
//! Base64 of HMAC-SHA256, keyed with the hex-decoded `hmac-key`, over the item's
//! `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
//! eventCode:success` (docs.adyen.com "development-resources/webhooks/secure-webhooks/
//! verify-hmac-signatures"). While a key is being rolled, items signed with the previous key
//! verify with the optional secret `hmac-key-previous` (the same page: "make sure that you can
//! still accept notifications signed with your previous HMAC key for some time").
//!
//! An item that fails verification (no signature, not Base64, no match, or not readable at all)
//! is dropped and logged, and the others of the batch are acted on and acknowledged:
//! - Adyen does "not recommend accepting" a webhook message that is not secure
//!   (docs.adyen.com "development-resources/webhooks/handle-webhook-events"): the item is not an
//!   event, whatever it claims;
//! - but the answer acknowledges the batch: an answer other than `[accepted]` puts the whole
//!   batch, its genuine items included, in Adyen's retry queue, which is per endpoint and
//!   sequential ("If a retry is successful, we continue with the next webhook in the queue",
//!   "development-resources/webhooks/troubleshoot"), so one bad item would hold back every later
//!   notification for up to 30 days.
//!
//! A request none of whose items verifies is refused (`bad-signature`, or `missing-signature`
//! when none is signed; the host answers 400): it is not from Adyen, or it is signed with a key
//! the host does not hold, and then refusing keeps it in Adyen's retry queue until the key is
//! fixed instead of acknowledging and losing it. A request that is not a notification batch is
//! `malformed`; an `hmac-key` the host can't use is `not-configured`.
//!
//! Events (`gateway-event.id` is `eventCode:pspReference:success`, plus the dispute status for
//! dispute events, so that a redelivery has the same id and a later stage of the same dispute
//! does not):
//!
//! | `eventCode` | event |
//! |---|---|
//! | AUTHORISATION | `payment`: `succeeded` or `requires-capture` (from the plugin's `omnicrm_capture` metadata; `requires-capture` when absent), `failed` with its decline |
//! | CAPTURE, CAPTURE_FAILED | `modification` `capture`: `succeeded` / `failed` |
//! | CANCELLATION | `modification` `void` |
//! | REFUND, REFUND_FAILED | `modification` `refund` |
//! | CANCEL_OR_REFUND | `modification` `void` or `refund` by `additionalData.modification.action` |
//! | NOTIFICATION_OF_CHARGEBACK, REQUEST_FOR_INFORMATION | `dispute` `warning` |
//! | CHARGEBACK, SECOND_CHARGEBACK | `dispute` `open` |
//! | CHARGEBACK_REVERSED, PREARBITRATION_WON | `dispute` `won` |
//! | PREARBITRATION_LOST | `dispute` `lost` |
//! | RECURRING_CONTRACT | `card-stored` (details from the item, else looked up in the shopper's stored methods) |
//! | anything else, or an item lacking what its event needs | `other` |
//!
//! A dispute's `disputeStatus` of `Won` makes it `won`, `Lost`, `Accepted` or `Expired` `lost`.
//! Payment events carry the payment's metadata (`additionalData.metadata.*`) without the
//! plugin's own entry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use omnicrm_gateway_sdk::charging::{ModificationStatus, PaymentStatus};
use omnicrm_gateway_sdk::mac::{self, CredentialError, MacAlgorithm, MacKey};
use omnicrm_gateway_sdk::tokens::StoredCard;
use omnicrm_gateway_sdk::webhooks::{
    DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, ModificationKind, ModificationUpdate,
    PaymentUpdate, Rejection, WebhookOutcome, WebhookRequest, WebhookResponse,
};
use omnicrm_gateway_sdk::{log, time};

use crate::cards;
use crate::client::{Client, encode};
use crate::config::Config;
use crate::dates;
use crate::decline;
use crate::errors::Target;
use crate::money;
use crate::outcome::CAPTURE_MODE_KEY;
use crate::wire::{self, Batch, Item, StoredMethods};

/// The secret whose hex text is the HMAC key of the webhook endpoint.
const SECRET: &str = "hmac-key";
/// The previous key, while a new one propagates at Adyen (optional).
const PREVIOUS_SECRET: &str = "hmac-key-previous";
/// The acknowledgement Adyen expects.
const ACCEPTED: &str = "[accepted]";

pub fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
    if request.method != "POST" {
        return Err(Rejection::Malformed(format!(
            "Adyen posts notifications; this request is a {}",
            request.method
        )));
    }
    let batch: Batch = wire::decode(&request.body)
        .map_err(|e| Rejection::Malformed(format!("not a notification batch: {e}")))?;
    if batch.items.is_empty() {
        return Err(Rejection::Malformed(
            "a notification batch without items".into(),
        ));
    }
    let mut verified = Vec::new();
    let mut signed = false;
    for (n, wrapper) in batch.items.iter().enumerate() {
        let item: Item = match wire::decode(wrapper.item.get().as_bytes()) {
            Ok(item) => item,
            Err(e) => {
                log!(
                    warn,
                    "notification item {n} dropped: not a notification item: {e}"
                );
                continue;
            }
        };
        let what = format!(
            "notification item {n} ({} {})",
            item.event_code, item.psp_reference
        );
        let Some(signature) = item.additional_data.non_empty("hmacSignature") else {
            log!(warn, "{what} dropped: it carries no hmacSignature");
            continue;
        };
        signed = true;
        let Ok(expected) = STANDARD.decode(signature) else {
            log!(warn, "{what} dropped: its hmacSignature is not Base64");
            continue;
        };
        if verify(&item, &expected)? {
            verified.push(item);
        } else {
            log!(warn, "{what} dropped: its hmacSignature does not match");
        }
    }
    if verified.is_empty() {
        return Err(if signed {
            Rejection::BadSignature
        } else {
            Rejection::MissingSignature
        });
    }
    // Only now, with the items verified, is anything acted on.
    let now = time::unix_now();
    let mut lookup = StoredCardLookup::default();
    let mut events = Vec::with_capacity(verified.len());
    for item in &verified {
        let (event, unmapped) = event(item, now, &mut |customer, id| lookup.find(customer, id));
        if let Some(why) = unmapped {
            log!(warn, "{why}");
        }
        events.push(event);
    }
    Ok(WebhookOutcome {
        events,
        response: WebhookResponse::text(200, ACCEPTED),
    })
}

/// Whether `expected` is the item's HMAC with the current key, or else the previous one.
fn verify(item: &Item, expected: &[u8]) -> Result<bool, Rejection> {
    let message = item.signing_string();
    let check = |secret: &str| {
        mac::verify_mac(
            &MacKey::hex(secret),
            MacAlgorithm::HmacSha256,
            message.as_bytes(),
            expected,
        )
    };
    match check(SECRET) {
        Ok(true) => return Ok(true),
        Ok(false) => {}
        Err(e) => return Err(Rejection::from_credential_error(SECRET, &e)),
    }
    match check(PREVIOUS_SECRET) {
        Ok(matched) => Ok(matched),
        // No previous key configured: the usual case.
        Err(CredentialError::Unavailable) => Ok(false),
        Err(e) => {
            log!(warn, "{}", mac::describe_error(PREVIOUS_SECRET, &e));
            Ok(false)
        }
    }
}

/// Looks stored cards up for RECURRING_CONTRACT items whose details are not in the item; the
/// settings are read once, at the first lookup.
#[derive(Default)]
struct StoredCardLookup {
    config: Option<Result<Config, String>>,
}

impl StoredCardLookup {
    fn find(&mut self, customer: &str, id: &str) -> Option<StoredCard> {
        let config = match self
            .config
            .get_or_insert_with(|| Config::load().map_err(|e| format!("{e:?}")))
        {
            Ok(config) => config,
            Err(e) => {
                log!(warn, "stored card {id} not looked up: {e}");
                return None;
            }
        };
        let path = format!(
            "/storedPaymentMethods?shopperReference={}&merchantAccount={}",
            encode(customer),
            encode(&config.merchant_account)
        );
        let list: StoredMethods =
            match Client::new(config).get(&path, Target::new("customer", customer)) {
                Ok(list) => list,
                Err(e) => {
                    log!(warn, "stored card {id} not looked up: {e:?}");
                    return None;
                }
            };
        let method = list
            .stored_payment_methods
            .iter()
            .find(|m| m.id == id && m.is_card())?;
        cards::from_stored(method, customer)
            .inspect_err(|why| log!(warn, "{why}"))
            .ok()
    }
}

/// The event of a verified item, and why it is `other` when it lacks what its event needs.
/// `find_card(customer, id)` looks a stored card up.
fn event(
    item: &Item,
    now: i64,
    find_card: &mut dyn FnMut(&str, &str) -> Option<StoredCard>,
) -> (GatewayEvent, Option<String>) {
    let dispute_status = item.additional_data.non_empty("disputeStatus");
    let mut id = format!(
        "{}:{}:{}",
        item.event_code, item.psp_reference, item.success
    );
    if let (Some(status), Some(_)) = (dispute_status, dispute(item)) {
        id = format!("{id}:{status}");
    }
    let (kind, unmapped) = match kind(item, find_card) {
        Some(kind) => (kind, None),
        None => (
            EventKind::Other(item.event_code.clone()),
            Some(format!(
                "notification {} {} lacks what its event needs: reported as `other`",
                item.event_code, item.psp_reference
            )),
        ),
    };
    let event = GatewayEvent {
        id,
        created: item
            .event_date
            .as_deref()
            .and_then(dates::unix_seconds)
            .unwrap_or(now),
        gateway_type: item.event_code.clone(),
        kind,
    };
    (event, unmapped)
}

/// The contract's kind of an item; `None` when it lacks what its event needs (it is `other`).
fn kind(
    item: &Item,
    find_card: &mut dyn FnMut(&str, &str) -> Option<StoredCard>,
) -> Option<EventKind> {
    let modification = |kind, status| modification(item, kind, status).map(EventKind::Modification);
    let outcome = if item.succeeded() {
        ModificationStatus::Succeeded
    } else {
        ModificationStatus::Failed
    };
    match item.event_code.as_str() {
        "AUTHORISATION" => payment(item).map(EventKind::Payment),
        "CAPTURE" => modification(ModificationKind::Capture, outcome),
        "CAPTURE_FAILED" => modification(ModificationKind::Capture, ModificationStatus::Failed),
        "CANCELLATION" => modification(ModificationKind::Void, outcome),
        "REFUND" => modification(ModificationKind::Refund, outcome),
        "REFUND_FAILED" => modification(ModificationKind::Refund, ModificationStatus::Failed),
        "CANCEL_OR_REFUND" => match item.additional_data.non_empty("modification.action") {
            Some("cancel") => modification(ModificationKind::Void, outcome),
            Some("refund") => modification(ModificationKind::Refund, outcome),
            _ => None,
        },
        "RECURRING_CONTRACT" => stored_card(item, find_card).map(EventKind::CardStored),
        code if dispute_stage(code).is_some() => dispute(item).map(EventKind::Dispute),
        other => Some(EventKind::Other(other.to_owned())),
    }
}

/// The payment's metadata, without the plugin's own entry.
fn metadata(item: &Item) -> Vec<(String, String)> {
    item.metadata()
        .filter(|(k, _)| *k != CAPTURE_MODE_KEY)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn payment(item: &Item) -> Option<PaymentUpdate> {
    let amount = money::from_adyen(item.amount.as_ref()?);
    let data = &item.additional_data;
    let (status, decline, captured) = if item.succeeded() {
        match item.metadata().find(|(k, _)| *k == CAPTURE_MODE_KEY) {
            Some((_, "automatic")) => (PaymentStatus::Succeeded, None, Some(amount.amount)),
            // Manual, or a payment the plugin did not make: never claim money was taken.
            _ => (PaymentStatus::RequiresCapture, None, Some(0)),
        }
    } else {
        let reason = item.reason.clone().filter(|r| !r.is_empty());
        let decline = decline::decline(
            data.non_empty("refusalReasonCode"),
            reason,
            Some(item.psp_reference.clone()),
        );
        (PaymentStatus::Failed, Some(decline), None)
    };
    Some(PaymentUpdate {
        payment: item.psp_reference.clone(),
        status,
        amount,
        amount_captured: captured,
        decline,
        metadata: metadata(item),
        fee: None,
        network_transaction_id: data.non_empty("networkTxReference").map(str::to_owned),
    })
}

fn modification(
    item: &Item,
    kind: ModificationKind,
    status: ModificationStatus,
) -> Option<ModificationUpdate> {
    let payment = item.original_reference.clone().filter(|p| !p.is_empty())?;
    let amount = match kind {
        ModificationKind::Void => None,
        _ => item.amount.as_ref().map(money::from_adyen),
    };
    let reason = (status == ModificationStatus::Failed)
        .then(|| item.reason.clone().filter(|r| !r.is_empty()))
        .flatten();
    Some(ModificationUpdate {
        modification: item.psp_reference.clone(),
        kind,
        payment,
        status,
        amount,
        reason,
    })
}

/// The stage a dispute event code stands for.
fn dispute_stage(code: &str) -> Option<DisputeStatus> {
    Some(match code {
        "NOTIFICATION_OF_CHARGEBACK" | "REQUEST_FOR_INFORMATION" => DisputeStatus::Warning,
        "CHARGEBACK" | "SECOND_CHARGEBACK" => DisputeStatus::Open,
        "CHARGEBACK_REVERSED" | "PREARBITRATION_WON" => DisputeStatus::Won,
        "PREARBITRATION_LOST" => DisputeStatus::Lost,
        _ => return None,
    })
}

fn dispute(item: &Item) -> Option<DisputeUpdate> {
    let stage = dispute_stage(&item.event_code)?;
    let data = &item.additional_data;
    let status = match data.non_empty("disputeStatus") {
        Some("Won") => DisputeStatus::Won,
        Some("Lost" | "Accepted" | "Expired") => DisputeStatus::Lost,
        _ => stage,
    };
    let reason = data
        .non_empty("chargebackReasonCode")
        .or_else(|| item.reason.as_deref().filter(|r| !r.is_empty()))
        .unwrap_or("")
        .to_owned();
    Some(DisputeUpdate {
        dispute: item.psp_reference.clone(),
        payment: item.original_reference.clone().filter(|p| !p.is_empty()),
        amount: money::from_adyen(item.amount.as_ref()?),
        reason,
        status,
        evidence_due_by: data
            .non_empty("defensePeriodEndsAt")
            .and_then(dates::unix_seconds),
    })
}

fn stored_card(
    item: &Item,
    find_card: &mut dyn FnMut(&str, &str) -> Option<StoredCard>,
) -> Option<StoredCard> {
    if !item.succeeded() {
        return None;
    }
    let data = &item.additional_data;
    let id = data
        .non_empty("recurring.recurringDetailReference")
        .unwrap_or(&item.psp_reference);
    let customer = data
        .non_empty("shopperReference")
        .or_else(|| data.non_empty("recurring.shopperReference"))?;
    cards::from_facts(id, customer, item.payment_method.as_deref(), data)
        .or_else(|| find_card(customer, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;
    use omnicrm_gateway_sdk::tokens::CardFunding;
    use omnicrm_gateway_sdk::types::DeclineCategory;

    /// The key the fixtures were signed with (the emulator's endpoint).
    const KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";

    fn items(body: &[u8]) -> Vec<Item> {
        let batch: Batch = decode(body).unwrap();
        batch
            .items
            .iter()
            .map(|w| decode(w.item.get().as_bytes()).unwrap())
            .collect()
    }

    fn no_lookup(_: &str, _: &str) -> Option<StoredCard> {
        panic!("no lookup expected")
    }

    fn kind_of(item: &Item) -> EventKind {
        event(item, 0, &mut no_lookup).0.kind
    }

    #[test]
    fn recorded_signatures_verify_over_the_signing_string() {
        use hmac::{Hmac, Mac};
        let key = hex_decode(KEY);
        for fixture in [
            &include_bytes!("wire/fixtures/notification_batch.json")[..],
            include_bytes!("wire/fixtures/notification_store.json"),
            include_bytes!("wire/fixtures/notification_refused.json"),
            include_bytes!("wire/fixtures/notification_chargeback.json"),
        ] {
            for item in items(fixture) {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
                mac.update(item.signing_string().as_bytes());
                let expected = STANDARD
                    .decode(item.additional_data.get("hmacSignature").unwrap())
                    .unwrap();
                assert_eq!(
                    mac.finalize().into_bytes().to_vec(),
                    expected,
                    "{}",
                    item.event_code
                );
            }
        }
    }

    fn hex_decode(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn authorisations_and_captures() {
        let batch = items(include_bytes!("wire/fixtures/notification_batch.json"));
        let authorisation = event(&batch[0], 0, &mut no_lookup).0;
        assert_eq!(authorisation.id, "AUTHORISATION:I2PY4HK9YZST25KL:true");
        assert_eq!(authorisation.gateway_type, "AUTHORISATION");
        assert_eq!(
            authorisation.created,
            dates::unix_seconds("2026-12-01T17:14:07+00:00").unwrap()
        );
        let EventKind::Payment(p) = authorisation.kind else {
            panic!("payment")
        };
        assert_eq!(
            (p.status, p.amount.amount, p.amount_captured),
            (PaymentStatus::RequiresCapture, 2000, Some(0))
        );
        assert_eq!(
            p.metadata,
            [("crm_transaction_id".to_owned(), "7".to_owned())].to_vec()
        );
        assert!(p.network_transaction_id.is_some());

        let mut automatic = batch[0].clone();
        for (k, v) in automatic.additional_data.0.iter_mut() {
            if k == "metadata.omnicrm_capture" {
                *v = "automatic".into();
            }
        }
        let EventKind::Payment(p) = kind_of(&automatic) else {
            panic!("payment")
        };
        assert_eq!(
            (p.status, p.amount_captured),
            (PaymentStatus::Succeeded, Some(2000))
        );

        let EventKind::Modification(m) = kind_of(&batch[1]) else {
            panic!("capture")
        };
        assert_eq!(
            (m.kind, m.status, m.payment.as_str()),
            (
                ModificationKind::Capture,
                ModificationStatus::Succeeded,
                "I2PY4HK9YZST25KL"
            )
        );
        assert_eq!(m.amount.unwrap().amount, 1500);
        assert!(m.reason.is_none());
        let mut failed = batch[1].clone();
        failed.event_code = "CAPTURE_FAILED".into();
        failed.reason = Some("Capture Failed".into());
        let EventKind::Modification(m) = kind_of(&failed) else {
            panic!("capture failed")
        };
        assert_eq!(
            (m.status, m.reason.as_deref()),
            (ModificationStatus::Failed, Some("Capture Failed"))
        );
        // A modification that names no payment can't be placed.
        let mut orphan = batch[1].clone();
        orphan.original_reference = None;
        assert!(matches!(kind_of(&orphan), EventKind::Other(t) if t == "CAPTURE"));
    }

    #[test]
    fn refusals_carry_their_decline() {
        let refused = &items(include_bytes!("wire/fixtures/notification_refused.json"))[0];
        let e = event(refused, 0, &mut no_lookup).0;
        assert_eq!(e.id, "AUTHORISATION:GRWBAR9G49OMA6JB:false");
        let EventKind::Payment(p) = e.kind else {
            panic!("payment")
        };
        assert_eq!(p.status, PaymentStatus::Failed);
        let d = p.decline.unwrap();
        assert_eq!(
            (d.category, d.code.as_str()),
            (DeclineCategory::InsufficientFunds, "12")
        );
        assert_eq!(d.payment.as_deref(), Some("GRWBAR9G49OMA6JB"));
    }

    #[test]
    fn modifications_of_every_kind() {
        let base = &items(include_bytes!("wire/fixtures/notification_batch.json"))[1];
        let with = |code: &str, success: &str, action: Option<&str>| {
            let mut item = base.clone();
            item.event_code = code.into();
            item.success = success.into();
            if let Some(a) = action {
                item.additional_data
                    .0
                    .push(("modification.action".into(), a.into()));
            }
            kind_of(&item)
        };
        assert!(matches!(with("CANCELLATION", "true", None),
            EventKind::Modification(m) if m.kind == ModificationKind::Void && m.amount.is_none()));
        assert!(matches!(with("CANCELLATION", "false", None),
            EventKind::Modification(m) if m.status == ModificationStatus::Failed));
        assert!(matches!(with("REFUND", "true", None),
            EventKind::Modification(m) if m.kind == ModificationKind::Refund && m.status == ModificationStatus::Succeeded));
        assert!(matches!(with("REFUND_FAILED", "true", None),
            EventKind::Modification(m) if m.kind == ModificationKind::Refund && m.status == ModificationStatus::Failed));
        assert!(matches!(with("CANCEL_OR_REFUND", "true", Some("cancel")),
            EventKind::Modification(m) if m.kind == ModificationKind::Void));
        assert!(matches!(with("CANCEL_OR_REFUND", "true", Some("refund")),
            EventKind::Modification(m) if m.kind == ModificationKind::Refund));
        assert!(matches!(
            with("CANCEL_OR_REFUND", "true", None),
            EventKind::Other(_)
        ));
        assert!(
            matches!(with("REPORT_AVAILABLE", "true", None), EventKind::Other(t) if t == "REPORT_AVAILABLE")
        );
    }

    #[test]
    fn chargebacks_are_disputes_with_stable_ids() {
        let chargeback = &items(include_bytes!("wire/fixtures/notification_chargeback.json"))[0];
        let e = event(chargeback, 0, &mut no_lookup).0;
        assert_eq!(e.id, "CHARGEBACK:LTNRJMWE0WBVHBW5:true:Undefended");
        let EventKind::Dispute(d) = e.kind else {
            panic!("dispute")
        };
        assert_eq!(
            (d.dispute.as_str(), d.payment.as_deref()),
            ("LTNRJMWE0WBVHBW5", Some("I2PY4HK9YZST25KL"))
        );
        assert_eq!(
            (d.status, d.amount.amount, d.reason.as_str()),
            (DisputeStatus::Open, 1500, "10.4")
        );
        assert_eq!(
            d.evidence_due_by,
            dates::unix_seconds("2026-12-15T17:14:15+00:00")
        );
        let stage = |code: &str, status: &str| {
            let mut item = chargeback.clone();
            item.event_code = code.into();
            for (k, v) in item.additional_data.0.iter_mut() {
                if k == "disputeStatus" {
                    *v = status.into();
                }
            }
            event(&item, 0, &mut no_lookup).0
        };
        for (code, status, expected) in [
            (
                "NOTIFICATION_OF_CHARGEBACK",
                "Undefended",
                DisputeStatus::Warning,
            ),
            ("REQUEST_FOR_INFORMATION", "Pending", DisputeStatus::Warning),
            ("CHARGEBACK_REVERSED", "Won", DisputeStatus::Won),
            ("SECOND_CHARGEBACK", "Lost", DisputeStatus::Lost),
            ("SECOND_CHARGEBACK", "Undefended", DisputeStatus::Open),
            ("CHARGEBACK", "Accepted", DisputeStatus::Lost),
            ("PREARBITRATION_WON", "", DisputeStatus::Won),
            ("PREARBITRATION_LOST", "", DisputeStatus::Lost),
        ] {
            let e = stage(code, status);
            assert!(
                matches!(&e.kind, EventKind::Dispute(d) if d.status == expected),
                "{code} {status}"
            );
            assert_eq!(e.gateway_type, code);
        }
        // The same dispute, a later status: another event.
        assert_ne!(
            stage("CHARGEBACK", "Lost").id,
            stage("CHARGEBACK", "Undefended").id
        );
        assert_eq!(
            stage("CHARGEBACK", "Lost").id,
            stage("CHARGEBACK", "Lost").id
        );
    }

    #[test]
    fn stored_cards_come_from_the_item_or_a_lookup() {
        let store = items(include_bytes!("wire/fixtures/notification_store.json"));
        assert!(matches!(kind_of(&store[0]), EventKind::Payment(p)
            if p.status == PaymentStatus::RequiresCapture && p.amount.amount == 0));
        // RECURRING_CONTRACT without card details: looked up.
        let mut asked = Vec::new();
        let (e, _) = event(&store[1], 0, &mut |customer: &str, id: &str| {
            asked.push((customer.to_owned(), id.to_owned()));
            Some(StoredCard {
                id: id.into(),
                customer: customer.into(),
                brand: "visa".into(),
                last4: "1111".into(),
                exp_month: 3,
                exp_year: 2030,
                fingerprint: None,
                funding: CardFunding::Unknown,
                country: None,
                is_default: false,
                network_transaction_id: None,
            })
        });
        assert_eq!(
            asked,
            [("CRM-1".to_owned(), "QQK5F3YZ6I521VJV".to_owned())].to_vec()
        );
        assert_eq!(e.id, "RECURRING_CONTRACT:QQK5F3YZ6I521VJV:true");
        assert!(
            matches!(e.kind, EventKind::CardStored(c) if c.id == "QQK5F3YZ6I521VJV" && c.customer == "CRM-1")
        );
        // A lookup that finds nothing: `other`.
        let (e, why) = event(&store[1], 0, &mut |_: &str, _: &str| None);
        assert!(matches!(e.kind, EventKind::Other(t) if t == "RECURRING_CONTRACT"));
        assert!(why.unwrap().contains("QQK5F3YZ6I521VJV"));
        // Details in the item: no lookup.
        let mut detailed = store[1].clone();
        detailed
            .additional_data
            .0
            .push(("cardSummary".into(), "1111".into()));
        detailed
            .additional_data
            .0
            .push(("expiryDate".into(), "3/2030".into()));
        assert!(
            matches!(kind_of(&detailed), EventKind::CardStored(c) if c.last4 == "1111" && c.brand == "visa")
        );
    }

    #[test]
    fn events_keep_their_date_or_take_now() {
        let mut item = items(include_bytes!("wire/fixtures/notification_refused.json"))[0].clone();
        item.event_date = None;
        assert_eq!(event(&item, 42, &mut no_lookup).0.created, 42);
        item.event_date = Some("yesterday".into());
        assert_eq!(event(&item, 42, &mut no_lookup).0.created, 42);
    }
}
