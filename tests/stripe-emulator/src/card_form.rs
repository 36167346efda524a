//! The test card form: the stand-in for Stripe Elements that lets a browser enter a card for a
//! card session (a SetupIntent) without Stripe.js, so that card pages work offline. The Stripe
//! plugin points a card session's `hosted-url` at it (its `card-form-url` setting) with the
//! SetupIntent, its client secret and the CRM's return address in the query.
//!
//! | route | params |
//! |---|---|
//! | `GET /_emulator/card-form` | `setup_intent`, `client_secret`, `return_url` |
//! | `POST /_emulator/card-form` | the same and `card_number` (a test card number): confirms the SetupIntent with it |
//! | `POST /_emulator/card-form/authenticate` | the same and `outcome=succeed` or `fail`: the bank's 3-D Secure page |
//!
//! A succeeded set-up sends the browser to `return_url` with `setup_intent`,
//! `setup_intent_client_secret` and `redirect_status`, as Stripe.js does.

use crate::cards;
use crate::error::ApiError;
use crate::form::Params;
use crate::resources::setup_intents;
use crate::state::State;

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The session a form belongs to: its SetupIntent, checked against its client secret.
struct Session {
    setup_intent: String,
    client_secret: String,
    return_url: Option<String>,
}

fn session(st: &State, p: &Params) -> Result<Session, ApiError> {
    let setup_intent = p.required("setup_intent")?.to_string();
    let client_secret = p.required("client_secret")?.to_string();
    let seti = st.setup_intents.find(&setup_intent, "setup_intent")?;
    if seti.client_secret != client_secret {
        return Err(ApiError::invalid_param(
            "client_secret",
            "The client secret does not match the SetupIntent.",
        ));
    }
    let return_url = p
        .non_empty("return_url")?
        .map(str::to_string)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Ok(Session {
        setup_intent,
        client_secret,
        return_url,
    })
}

fn hidden_fields(s: &Session) -> String {
    format!(
        r#"<input type="hidden" name="setup_intent" value="{}"><input type="hidden" name="client_secret" value="{}"><input type="hidden" name="return_url" value="{}">"#,
        escape(&s.setup_intent),
        escape(&s.client_secret),
        escape(s.return_url.as_deref().unwrap_or(""))
    )
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{t}</title></head><body><h1>{t}</h1><p><em>Stripe emulator: test card form (a stand-in for Stripe Elements).</em></p>{body}</body></html>"#,
        t = escape(title)
    )
}

fn form_page(s: &Session, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p id="card-error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    layout(
        "Enter a card",
        &format!(
            r#"{error}<form method="post" action="/_emulator/card-form" id="card-form">{}<label>Card number <input name="card_number" id="card-number" autocomplete="off" placeholder="4242 4242 4242 4242"></label> <button type="submit" id="card-submit">Save the card</button></form><p>Test cards: 4242 4242 4242 4242 (succeeds), 4000 0027 6000 3184 (asks for 3-D Secure), 4000 0000 0000 0002 (declined).</p>"#,
            hidden_fields(s)
        ),
    )
}

fn back_page(s: &Session) -> String {
    let Some(url) = &s.return_url else {
        return layout(
            "Card saved",
            &format!(
                r#"<p id="card-saved">The card is set up: SetupIntent <code>{}</code>.</p>"#,
                escape(&s.setup_intent)
            ),
        );
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("setup_intent", &s.setup_intent)
        .append_pair("setup_intent_client_secret", &s.client_secret)
        .append_pair("redirect_status", "succeeded")
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    let back = escape(&format!("{url}{sep}{query}"));
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={back}"><title>Card saved</title></head><body><p id="card-saved">The card is set up. <a href="{back}" id="return-link">Back to the merchant</a></p></body></html>"#
    )
}

/// `GET /_emulator/card-form`: the form.
pub fn page(st: &State, p: &Params) -> Result<String, ApiError> {
    Ok(form_page(&session(st, p)?, None))
}

/// `POST /_emulator/card-form`: confirms the SetupIntent with the card entered; the bank's
/// page when the card asks for 3-D Secure, the form again with the reason when it is declined.
pub fn submit(st: &mut State, p: &Params) -> Result<String, ApiError> {
    let s = session(st, p)?;
    let number: String = p
        .non_empty("card_number")?
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if cards::lookup(&number).is_none() {
        return Ok(form_page(
            &s,
            Some("This is not one of the emulator's test cards."),
        ));
    }
    let mut confirm = form_urlencoded::Serializer::new(String::new());
    confirm.append_pair("payment_method", &number);
    if let Some(u) = &s.return_url {
        confirm.append_pair("return_url", u);
    }
    let confirm = Params::parse(None, confirm.finish().as_bytes())?;
    if let Err(e) = setup_intents::confirm(st, &s.setup_intent, &confirm) {
        let message = e.body("card_form")["error"]["message"]
            .as_str()
            .unwrap_or("The card was declined.")
            .to_string();
        return Ok(form_page(&s, Some(&message)));
    }
    let status = st
        .setup_intents
        .find(&s.setup_intent, "setup_intent")?
        .status;
    Ok(match status {
        "succeeded" => back_page(&s),
        "requires_action" => layout(
            "Your bank asks you to confirm",
            &format!(
                r#"<form method="post" action="/_emulator/card-form/authenticate" id="threeds">{}<button type="submit" name="outcome" value="succeed" id="authenticate">Confirm</button> <button type="submit" name="outcome" value="fail" id="refuse">Refuse</button></form>"#,
                hidden_fields(&s)
            ),
        ),
        other => form_page(&s, Some(&format!("The set-up is {other}."))),
    })
}

/// `POST /_emulator/card-form/authenticate`: the bank's answer to 3-D Secure.
pub fn authenticate(st: &mut State, p: &Params) -> Result<String, ApiError> {
    let s = session(st, p)?;
    let succeed = p.non_empty("outcome")? != Some("fail");
    setup_intents::complete_authentication(st, &s.setup_intent, succeed)?;
    Ok(if succeed {
        back_page(&s)
    } else {
        form_page(&s, Some("The authentication failed: try another card."))
    })
}
