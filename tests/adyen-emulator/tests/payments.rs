//! Payments over real HTTP: test cards, forced outcomes, validation, stored methods, 3-D Secure
//! (redirect and native, through the emulator's pages), sessions and the card form.

mod common;

use adyen_emulator::cards::{self, Final};
use serde_json::{Value, json};

use common::{Api, MERCHANT, RETURN_URL, card, emitted, payment, query_param, s, start};

#[tokio::test]
async fn authorised_payment_is_captured_and_notified_with_metadata() {
    let (emulator, api) = start().await;
    let mut body = payment(1050, "EUR", card("4111111111111111"));
    body["metadata"] = json!({"crmTransactionId": "TX-1", "tenant": "acme"});
    body["shopperReference"] = json!("shopper-1");
    let answer = api.post("/payments", &body).await.ok();
    assert_eq!(answer["resultCode"], "Authorised");
    let psp = s(&answer["pspReference"]).to_string();
    assert_eq!(psp.len(), 16);
    assert_eq!(answer["merchantReference"], body["reference"]);
    assert_eq!(answer["amount"], json!({"currency": "EUR", "value": 1050}));
    assert_eq!(
        answer["paymentMethod"],
        json!({"brand": "visa", "type": "scheme"})
    );
    assert_eq!(answer["additionalData"]["cardSummary"], "1111");
    assert!(answer["additionalData"]["networkTxReference"].is_string());
    let item = emitted(&emulator, "AUTHORISATION", &psp).await;
    assert_eq!(item["success"], "true");
    assert_eq!(item["merchantAccountCode"], MERCHANT);
    assert_eq!(item["merchantReference"], body["reference"]);
    assert_eq!(item["additionalData"]["metadata.crmTransactionId"], "TX-1");
    assert_eq!(item["additionalData"]["metadata.tenant"], "acme");
    assert_eq!(item["additionalData"]["shopperReference"], "shopper-1");
    assert_eq!(item["paymentMethod"], "visa");
    // Automatically captured: only a refund is left to do.
    assert_eq!(item["operations"], json!(["REFUND"]));
    // Amounts in minor units of every exponent.
    for (value, currency) in [(1050, "JPY"), (1234, "KWD"), (5, "CLF")] {
        let a = api
            .post(
                "/payments",
                &payment(value, currency, card("5555555555554444")),
            )
            .await
            .ok();
        assert_eq!(a["amount"], json!({"currency": currency, "value": value}));
    }
}

#[tokio::test]
async fn every_forced_outcome_by_holder_name_and_by_code() {
    let (emulator, api) = start().await;
    for outcome in cards::OUTCOMES {
        let mut method = card("4111111111111111");
        method["holderName"] = json!(outcome.holder_name);
        let answer = api
            .post("/payments", &payment(100, "EUR", method))
            .await
            .ok();
        assert_eq!(
            answer["resultCode"],
            outcome.result.as_str(),
            "{}",
            outcome.holder_name
        );
        match outcome.result {
            Final::Authorised | Final::Received => assert!(answer.get("refusalReason").is_none()),
            _ => {
                assert_eq!(answer["refusalReason"], outcome.reason.unwrap());
                assert_eq!(answer["refusalReasonCode"], outcome.code);
                let item = emitted(&emulator, "AUTHORISATION", s(&answer["pspReference"])).await;
                assert_eq!(item["success"], "false");
                assert_eq!(item["reason"], outcome.reason.unwrap());
            }
        }
    }
    // The same through additionalData.RequestedTestAcquirerResponseCode.
    let mut body = payment(100, "EUR", card("5555555555554444"));
    body["additionalData"] = json!({"RequestedTestAcquirerResponseCode": "24"});
    let answer = api.post("/payments", &body).await.ok();
    assert_eq!(answer["resultCode"], "Refused");
    assert_eq!(answer["refusalReason"], "CVC Declined");
    assert_eq!(answer["refusalReasonCode"], "24");
    // An expired card is refused as such.
    let mut expired = card("4111111111111111");
    expired["encryptedExpiryYear"] = json!("test_2020");
    let answer = api
        .post("/payments", &payment(100, "EUR", expired))
        .await
        .ok();
    assert_eq!(answer["refusalReasonCode"], "6");
}

#[tokio::test]
async fn pending_payment_is_authorised_later_by_notification() {
    let (emulator, api) = start().await;
    emulator.set_settle_delay(adyen_emulator::SettleDelay::Manual);
    let mut method = card("4111111111111111");
    method["holderName"] = json!("PENDING");
    let answer = api
        .post("/payments", &payment(700, "EUR", method))
        .await
        .ok();
    assert_eq!(answer["resultCode"], "Received");
    let psp = s(&answer["pspReference"]).to_string();
    assert_eq!(emulator.pending_settlements(), 1);
    assert_eq!(emulator.release_settlements_for(&psp), 1);
    let item = emitted(&emulator, "AUTHORISATION", &psp).await;
    assert_eq!(item["success"], "true");
}

#[tokio::test]
async fn validation_errors_answer_like_adyen() {
    let (_emulator, api) = start().await;
    let base = payment(100, "EUR", card("4111111111111111"));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(&|b| b["colour"] = json!("red")), 400, "702"),
        (with(&|b| b["merchantAccount"] = json!("")), 403, "901"),
        (
            with(&|b| b["amount"]["currency"] = json!("XXX")),
            422,
            "138",
        ),
        (with(&|b| b["amount"]["value"] = json!(-1)), 422, "137"),
        (with(&|b| b["amount"]["value"] = json!("ten")), 400, "702"),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("amount");
            }),
            422,
            "100",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("reference");
            }),
            422,
            "130",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("returnUrl");
            }),
            422,
            "14_030",
        ),
        (
            with(&|b| b["paymentMethod"]["encryptedCardNumber"] = json!("test_4111111111111112")),
            422,
            "101",
        ),
        (
            with(&|b| b["paymentMethod"]["encryptedSecurityCode"] = json!("test_73")),
            422,
            "103",
        ),
        (
            with(&|b| b["paymentMethod"]["encryptedExpiryMonth"] = json!("test_13")),
            422,
            "129",
        ),
        (
            with(&|b| b["paymentMethod"]["encryptedCardNumber"] = json!("adyenjs_0_1_25$abc")),
            422,
            "174",
        ),
        (
            with(
                &|b| b["paymentMethod"] = json!({"type": "scheme", "number": "4111111111111111", "expiryMonth": "03", "expiryYear": "2030", "cvc": "737"}),
            ),
            403,
            "010",
        ),
        (with(&|b| b["storePaymentMethod"] = json!(true)), 422, "000"),
        (
            with(&|b| b["shopperInteraction"] = json!("Telepathy")),
            400,
            "702",
        ),
    ];
    for (body, status, code) in cases {
        let answer = api.post("/payments", &body).await;
        let error = answer.error(status, code);
        assert!(error["errorType"].is_string());
        assert_eq!(
            error.get("pspReference").is_some(),
            status == 422 || status == 403,
            "{error}"
        );
    }
    let unknown = api
        .post("/payments", &with(&|b| b["colour"] = json!("red")))
        .await;
    assert_eq!(
        unknown.json["message"],
        "Structure of PaymentRequest contains the following unknown fields: [colour]"
    );
    let not_json = api
        .try_send(
            http::Method::POST,
            "/v71/payments",
            Some(bytes::Bytes::from_static(b"{\"amount\":")),
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    not_json.error(400, "702");
    // No body at all is a request without a merchant account.
    api.send(http::Method::POST, "/v71/payments", None, &[])
        .await
        .error(403, "901");
}

#[tokio::test]
async fn stored_methods_are_charged_listed_and_deleted() {
    let (emulator, api) = start().await;
    let id = api.store("5555555555554444", "cust-7").await;
    assert_eq!(id.len(), 16);
    // RECURRING_CONTRACT announces the new token.
    let contract = emitted(&emulator, "RECURRING_CONTRACT", &id).await;
    assert_eq!(
        contract["additionalData"]["recurring.recurringDetailReference"],
        id
    );
    assert_eq!(
        contract["additionalData"]["recurring.shopperReference"],
        "cust-7"
    );
    // The zero-amount authorisation's answer names the token both ways.
    let mut again = payment(0, "EUR", card("5555555555554444"));
    again["shopperReference"] = json!("cust-7");
    again["storePaymentMethod"] = json!(true);
    let same = api.post("/payments", &again).await.ok();
    assert_eq!(
        same["additionalData"]["recurring.recurringDetailReference"],
        id
    );
    assert_eq!(
        same["additionalData"]["tokenization.store.operationType"],
        "alreadyExisting"
    );
    // A merchant-initiated charge never asks for 3-D Secure, even with an enrolled card.
    let enrolled = api.store_with_auth("4212345678910006", "cust-7").await;
    let charged = api.charge(&enrolled, "cust-7", 2500).await.ok();
    assert_eq!(charged["resultCode"], "Authorised");
    assert!(charged["additionalData"]["networkTxReference"].is_string());
    let charged = api.charge(&id, "cust-7", 1999).await.ok();
    assert_eq!(charged["resultCode"], "Authorised");
    // The list.
    let list = api
        .get(&format!(
            "/storedPaymentMethods?shopperReference=cust-7&merchantAccount={MERCHANT}"
        ))
        .await
        .ok();
    let methods = list["storedPaymentMethods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    assert_eq!(methods[0]["id"], id);
    assert_eq!(methods[0]["brand"], "mc");
    assert_eq!(methods[0]["lastFour"], "4444");
    assert_eq!(methods[0]["expiryMonth"], "03");
    assert_eq!(methods[0]["expiryYear"], "30");
    assert_eq!(list["shopperReference"], "cust-7");
    // Another shopper can't use it.
    api.charge(&id, "someone-else", 100).await.error(422, "800");
    // A test refuses the next charge of the token, as an issuer would.
    api.admin(
        &format!("stored_payment_methods/{id}/refuse"),
        &[("code", "12"), ("count", "1")],
    )
    .await;
    let refused = api.charge(&id, "cust-7", 100).await.ok();
    assert_eq!(refused["refusalReasonCode"], "12");
    assert_eq!(
        api.charge(&id, "cust-7", 100).await.ok()["resultCode"],
        "Authorised"
    );
    emulator.refuse_stored_method(&id, "38", None).unwrap();
    for _ in 0..2 {
        let insists = api.charge(&id, "cust-7", 100).await.ok();
        assert_eq!(insists["refusalReason"], "Authentication required");
    }
    emulator.clear_refusal(&id).unwrap();
    // Deleted for good.
    let deleted = api
        .delete(&format!(
            "/storedPaymentMethods/{id}?shopperReference=cust-7&merchantAccount={MERCHANT}"
        ))
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    api.charge(&id, "cust-7", 100).await.error(422, "800");
    api.delete(&format!(
        "/storedPaymentMethods/{id}?shopperReference=cust-7&merchantAccount={MERCHANT}"
    ))
    .await
    .error(422, "800");
}

trait StoreWithAuth {
    async fn store_with_auth(&self, number: &str, shopper: &str) -> String;
}

impl StoreWithAuth for Api {
    /// Stores an enrolled card: the shopper authenticates once, through the redirect page.
    async fn store_with_auth(&self, number: &str, shopper: &str) -> String {
        let mut body = payment(0, "EUR", card(number));
        body["shopperReference"] = json!(shopper);
        body["storePaymentMethod"] = json!(true);
        let answer = self.post("/payments", &body).await.ok();
        assert_eq!(answer["resultCode"], "RedirectShopper");
        let done = complete_redirect(self, &answer, "password").await;
        assert_eq!(done["resultCode"], "Authorised", "{done}");
        s(&done["additionalData"]["tokenization.storedPaymentMethodId"]).to_string()
    }
}

/// Visits the redirect action's page, submits `password`, follows the way back and completes the
/// payment with `/payments/details`.
async fn complete_redirect(api: &Api, answer: &Value, password: &str) -> Value {
    let url = s(&answer["action"]["url"]);
    let page = api.page(url).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("3-D Secure"), "{}", page.text);
    let path = url
        .split_once("/_emulator")
        .map(|(_, p)| format!("/_emulator{p}"))
        .unwrap();
    let back = api.form(&path, &[("password", password)], &[]).await;
    assert_eq!(back.status, 303);
    let location = back.header("location").unwrap();
    assert!(location.starts_with(RETURN_URL), "{location}");
    let redirect_result = query_param(location, "redirectResult").unwrap();
    api.post(
        "/payments/details",
        &json!({"details": {"redirectResult": redirect_result}}),
    )
    .await
    .ok()
}

#[tokio::test]
async fn three_ds_redirect_flow_through_the_page() {
    let (emulator, api) = start().await;
    let answer = api.pay("4212345678910006", 4200).await;
    assert_eq!(answer["resultCode"], "RedirectShopper");
    assert_eq!(answer["action"]["type"], "redirect");
    assert_eq!(answer["action"]["method"], "GET");
    let psp = s(&answer["pspReference"]).to_string();
    // Not visited yet: the details are refused.
    let early = api
        .post(
            "/payments/details",
            &json!({"details": {"redirectResult": "made-up"}}),
        )
        .await;
    early.error(422, "000");
    let done = complete_redirect(&api, &answer, "password").await;
    assert_eq!(done["resultCode"], "Authorised");
    assert_eq!(done["pspReference"], psp.as_str());
    assert_eq!(
        emitted(&emulator, "AUTHORISATION", &psp).await["success"],
        "true"
    );
    // A failed challenge refuses the payment (3D Not Authenticated).
    let answer = api.pay("5454545454545454", 4200).await;
    let done = complete_redirect(&api, &answer, "wrong").await;
    assert_eq!(done["resultCode"], "Refused");
    assert_eq!(done["refusalReasonCode"], "11");
    // A frictionless card on the redirect flow comes straight back.
    let answer = api.pay("5201281505129736", 4200).await;
    let page = api.page(s(&answer["action"]["url"])).await;
    assert_eq!(page.status, 303);
    let result = query_param(page.header("location").unwrap(), "redirectResult").unwrap();
    let body = json!({"details": {"redirectResult": result}});
    let done = api.post("/payments/details", &body).await.ok();
    assert_eq!(done["resultCode"], "Authorised");
    // Sent again, the details answer the same.
    assert_eq!(api.post("/payments/details", &body).await.ok(), done);
    // A test can act for the shopper through the library.
    let answer = api.pay("2222400010000008", 999).await;
    let details = emulator.authenticate(&answer["action"], false).unwrap();
    let done = api
        .post("/payments/details", &json!({"details": details}))
        .await
        .ok();
    assert_eq!(done["refusalReason"], "3D Not Authenticated");
    // Authentication not attempted when the merchant says never.
    let mut body = payment(100, "EUR", card("4212345678910006"));
    body["authenticationData"] = json!({"attemptAuthentication": "never"});
    assert_eq!(
        api.post("/payments", &body).await.ok()["resultCode"],
        "Authorised"
    );
}

#[tokio::test]
async fn three_ds_redirect_with_post_both_ways() {
    let (_emulator, api) = start().await;
    let mut body = payment(100, "EUR", card("4212345678910006"));
    body["redirectToIssuerMethod"] = json!("POST");
    body["redirectFromIssuerMethod"] = json!("POST");
    let answer = api.post("/payments", &body).await.ok();
    let action = &answer["action"];
    assert_eq!(action["method"], "POST");
    assert_eq!(action["data"]["TermUrl"], RETURN_URL);
    let md = s(&action["data"]["MD"]);
    let page = api.form("/_emulator/threeds", &[("MD", md)], &[]).await;
    assert_eq!(page.status, 200);
    let back = api
        .form(
            &format!("/_emulator/threeds/{md}"),
            &[("outcome", "succeed")],
            &[],
        )
        .await;
    assert_eq!(back.status, 200);
    assert!(back.text.contains("method=\"post\"") && back.text.contains(RETURN_URL));
    let result = back
        .text
        .split("name=\"redirectResult\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let done = api
        .post(
            "/payments/details",
            &json!({"details": {"redirectResult": result}}),
        )
        .await
        .ok();
    assert_eq!(done["resultCode"], "Authorised");
}

#[tokio::test]
async fn native_three_ds2_fingerprint_then_challenge() {
    let (_emulator, api) = start().await;
    let native = |number: &str| {
        let mut body = payment(3000, "EUR", card(number));
        body["authenticationData"] = json!({"threeDSRequestData": {"nativeThreeDS": "preferred"}});
        body
    };
    // Full flow: fingerprint, then challenge.
    let answer = api
        .post("/payments", &native("5000550000000029"))
        .await
        .ok();
    assert_eq!(answer["resultCode"], "IdentifyShopper");
    assert_eq!(answer["action"]["type"], "threeDS2");
    assert_eq!(answer["action"]["subtype"], "fingerprint");
    let token = s(&answer["action"]["authorisationToken"]);
    let fingerprint = api
        .page(&format!("/_emulator/threeds2/{token}/fingerprint"))
        .await
        .ok();
    let challenge = api
        .post(
            "/payments/details",
            &json!({"details": {"threeDSResult": fingerprint["threeDSResult"]}}),
        )
        .await
        .ok();
    assert_eq!(challenge["resultCode"], "ChallengeShopper");
    assert_eq!(challenge["action"]["subtype"], "challenge");
    let page = api.page(&format!("/_emulator/threeds2/{token}")).await;
    assert_eq!(page.status, 200);
    let result = api
        .form(
            &format!("/_emulator/threeds2/{token}"),
            &[("password", "password")],
            &[("accept", "application/json")],
        )
        .await
        .ok();
    let done = api
        .post(
            "/payments/details",
            &json!({"details": {"threeDSResult": result["threeDSResult"]}}),
        )
        .await
        .ok();
    assert_eq!(done["resultCode"], "Authorised");
    // Challenge only.
    let answer = api
        .post("/payments", &native("4212345678910006"))
        .await
        .ok();
    assert_eq!(answer["resultCode"], "ChallengeShopper");
    let token = s(&answer["action"]["authorisationToken"]);
    let html = api
        .form(
            &format!("/_emulator/threeds2/{token}"),
            &[("password", "nope")],
            &[],
        )
        .await;
    let result = html
        .text
        .split("<pre id=\"threeDSResult\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_string();
    let done = api
        .post(
            "/payments/details",
            &json!({"details": {"threeDSResult": result}}),
        )
        .await
        .ok();
    assert_eq!(done["resultCode"], "Refused");
    // Frictionless: the fingerprint is enough.
    let answer = api
        .post("/payments", &native("5201281505129736"))
        .await
        .ok();
    assert_eq!(answer["resultCode"], "IdentifyShopper");
    let token = s(&answer["action"]["authorisationToken"]);
    let fingerprint = api
        .page(&format!("/_emulator/threeds2/{token}/fingerprint"))
        .await
        .ok();
    let done = api
        .post(
            "/payments/details",
            &json!({"details": {"threeDSResult": fingerprint["threeDSResult"]}}),
        )
        .await
        .ok();
    assert_eq!(done["resultCode"], "Authorised");
}

#[tokio::test]
async fn checkout_session_through_the_hosted_page() {
    let (emulator, api) = start().await;
    let create = |mode: &str, amount: i64| {
        json!({
            "merchantAccount": MERCHANT,
            "amount": {"value": amount, "currency": "EUR"},
            "reference": "session-order-1",
            "returnUrl": RETURN_URL,
            "shopperReference": "cust-s",
            "storePaymentMethodMode": mode,
            "recurringProcessingModel": "CardOnFile",
            "mode": "hosted",
        })
    };
    let session = api.post("/sessions", &create("enabled", 0)).await;
    assert_eq!(session.status, 201);
    let session = session.json;
    let id = s(&session["id"]).to_string();
    assert!(id.starts_with("CS"));
    assert!(session["sessionData"].is_string());
    assert!(session["expiresAt"].as_str().unwrap().ends_with("+00:00"));
    let url = s(&session["url"]).to_string();
    assert_eq!(api.page(&url).await.status, 200);
    let card_fields = [
        ("number", "4111 1111 1111 1111"),
        ("expiryMonth", "03"),
        ("expiryYear", "2030"),
        ("cvc", "737"),
        ("holderName", "Jo Tester"),
    ];
    let back = api
        .form(&format!("/_emulator/sessions/{id}"), &card_fields, &[])
        .await;
    assert_eq!(back.status, 303);
    let location = back.header("location").unwrap().to_string();
    assert_eq!(
        query_param(&location, "sessionId").as_deref(),
        Some(id.as_str())
    );
    let result = query_param(&location, "sessionResult").unwrap();
    let outcome = api
        .get(&format!(
            "/sessions/{id}?sessionResult={}",
            urlencode(&result)
        ))
        .await
        .ok();
    assert_eq!(outcome["status"], "completed");
    assert_eq!(outcome["payments"][0]["resultCode"], "Authorised");
    let psp = s(&outcome["payments"][0]["pspReference"]);
    let item = emitted(&emulator, "AUTHORISATION", psp).await;
    assert_eq!(item["additionalData"]["checkoutSessionId"], id.as_str());
    let stored = s(&item["additionalData"]["tokenization.storedPaymentMethodId"]).to_string();
    assert_eq!(
        outcome["additionalData"]["tokenization.storedPaymentMethodId"],
        stored.as_str(),
        "the session's result names the card it stored"
    );
    assert_eq!(
        api.charge(&stored, "cust-s", 500).await.ok()["resultCode"],
        "Authorised"
    );
    api.get(&format!("/sessions/{id}?sessionResult=forged"))
        .await
        .error(422, "000");
    // A card that needs 3-D Secure goes through the challenge page, then back with the result.
    let session = api.post("/sessions", &create("disabled", 2500)).await.ok();
    let id = s(&session["id"]).to_string();
    let mut fields = card_fields.to_vec();
    fields[0] = ("number", "4212345678910006");
    let to_challenge = api
        .form(&format!("/_emulator/sessions/{id}"), &fields, &[])
        .await;
    assert_eq!(to_challenge.status, 303);
    let challenge = to_challenge.header("location").unwrap().to_string();
    let path = challenge
        .split_once("/_emulator")
        .map(|(_, p)| format!("/_emulator{p}"))
        .unwrap();
    let back = api.form(&path, &[("password", "password")], &[]).await;
    let location = back.header("location").unwrap();
    let result = query_param(location, "sessionResult").unwrap();
    let outcome = api
        .get(&format!(
            "/sessions/{id}?sessionResult={}",
            urlencode(&result)
        ))
        .await
        .ok();
    assert_eq!(outcome["status"], "completed");
    // A refused card lets the shopper try again; the session stays active.
    let session = api.post("/sessions", &create("disabled", 100)).await.ok();
    let id = s(&session["id"]).to_string();
    let mut fields = card_fields.to_vec();
    fields[4] = ("holderName", "NOT_ENOUGH_BALANCE");
    let retry = api
        .form(&format!("/_emulator/sessions/{id}"), &fields, &[])
        .await;
    assert_eq!(retry.status, 400);
    assert!(retry.text.contains("Not enough balance"), "{}", retry.text);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn card_form_returns_a_token_usable_as_payment_method() {
    let (_emulator, api) = start().await;
    let page = api
        .page(
            "/_emulator/card-form?return_url=http%3A%2F%2Fconsole.local%2Fcards%3Fc%3D1&state=abc",
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<form") && !page.text.contains("http://cdn"));
    let back = api
        .form(
            "/_emulator/card-form",
            &[
                ("return_url", "http://console.local/cards?c=1"),
                ("state", "abc"),
                ("number", "5555555555554444"),
                ("expiryMonth", "3"),
                ("expiryYear", "2030"),
                ("cvc", "737"),
                ("holderName", "Ada"),
            ],
            &[],
        )
        .await;
    assert_eq!(back.status, 303);
    let location = back.header("location").unwrap();
    assert!(location.starts_with("http://console.local/cards?c=1&"));
    assert_eq!(query_param(location, "state").as_deref(), Some("abc"));
    assert_eq!(query_param(location, "lastFour").as_deref(), Some("4444"));
    assert_eq!(query_param(location, "brand").as_deref(), Some("mc"));
    let token: Value = serde_json::from_str(&query_param(location, "token").unwrap()).unwrap();
    assert_eq!(token["encryptedCardNumber"], "test_5555555555554444");
    assert_eq!(token["encryptedExpiryMonth"], "test_03");
    let answer = api
        .post("/payments", &payment(100, "EUR", token))
        .await
        .ok();
    assert_eq!(answer["resultCode"], "Authorised");
    // A wrong number stays on the form with the reason.
    let again = api
        .form(
            "/_emulator/card-form",
            &[
                ("return_url", "http://console.local/"),
                ("number", "4111111111111112"),
                ("expiryMonth", "03"),
                ("expiryYear", "2030"),
            ],
            &[],
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(again.text.contains("Invalid card number"));
}
