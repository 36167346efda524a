//! The HTML pages the shopper (or a test, or the operator console) "visits": the card form, the
//! 3-D Secure pages and the checkout session page. Small, self-contained, no external assets.

use crate::currency::Amount;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
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

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><style>body{{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em}}label{{display:block;margin:.6em 0 .2em}}input{{width:100%;padding:.4em;box-sizing:border-box}}button{{margin:.8em .4em 0 0;padding:.5em 1em}}.error{{color:#a00}}.note{{color:#555;font-size:.9em}}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default()
}

fn card_fields(holder: bool) -> String {
    let mut fields = String::from(
        "<label for=\"number\">Card number</label><input id=\"number\" name=\"number\" inputmode=\"numeric\" autocomplete=\"cc-number\" required>\
         <label for=\"expiryMonth\">Expiry month (MM)</label><input id=\"expiryMonth\" name=\"expiryMonth\" inputmode=\"numeric\" maxlength=\"2\" required>\
         <label for=\"expiryYear\">Expiry year (YYYY)</label><input id=\"expiryYear\" name=\"expiryYear\" inputmode=\"numeric\" maxlength=\"4\" required>\
         <label for=\"cvc\">Security code</label><input id=\"cvc\" name=\"cvc\" inputmode=\"numeric\" maxlength=\"4\" autocomplete=\"cc-csc\">",
    );
    if holder {
        fields.push_str("<label for=\"holderName\">Name on card</label><input id=\"holderName\" name=\"holderName\" autocomplete=\"cc-name\">");
    }
    fields
}

/// The card form: posts the card to `post_url`, which sends it back to `return_url` as a token.
pub fn card_form(
    post_url: &str,
    return_url: &str,
    state: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut body = format!(
        "<p class=\"note\">Adyen emulator: test cards only (e.g. 4111 1111 1111 1111, 03/2030, 737).</p>{}<form method=\"post\" action=\"{}\">{}{}",
        error_line(error),
        escape(post_url),
        hidden("return_url", return_url),
        card_fields(true),
    );
    if let Some(state) = state {
        body.push_str(&hidden("state", state));
    }
    body.push_str("<button type=\"submit\">Save card</button></form>");
    page("Add a card", &body)
}

/// The 3-D Secure challenge page of a payment.
pub fn challenge(
    post_url: &str,
    merchant: &str,
    amount: &Amount,
    last_four: &str,
    error: Option<&str>,
) -> String {
    let body = format!(
        "<p>{} asks you to confirm a payment of <strong>{}</strong> with the card ending in {}.</p>\
         <p class=\"note\">Test password: <code>password</code>. Any other value fails authentication.</p>{}\
         <form method=\"post\" action=\"{}\"><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"one-time-code\">\
         <button type=\"submit\" name=\"outcome\" value=\"password\">Submit</button>\
         <button type=\"submit\" name=\"outcome\" value=\"fail\">Cancel</button></form>",
        escape(merchant),
        escape(&amount.display()),
        escape(last_four),
        error_line(error),
        escape(post_url),
    );
    page("3-D Secure authentication", &body)
}

/// Shows the `threeDSResult` of a native challenge (the SDK would hand it to the merchant).
pub fn challenge_done(three_ds_result: &str, authenticated: bool) -> String {
    page(
        if authenticated {
            "Authenticated"
        } else {
            "Authentication failed"
        },
        &format!(
            "<p>Send this to <code>/payments/details</code> as <code>details.threeDSResult</code>:</p><pre id=\"threeDSResult\">{}</pre>",
            escape(three_ds_result)
        ),
    )
}

/// Sends the shopper back to the merchant with a POST (`redirectFromIssuerMethod: POST`).
pub fn post_back(url: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    page(
        "Returning to the shop",
        &format!(
            "<form id=\"back\" method=\"post\" action=\"{}\">{inputs}<button type=\"submit\">Continue</button></form><script>document.getElementById('back').submit()</script>",
            escape(url)
        ),
    )
}

/// The checkout session page.
pub fn session(
    post_url: &str,
    merchant: &str,
    amount: &Amount,
    ask_consent: bool,
    error: Option<&str>,
) -> String {
    let mut body = format!(
        "<p>{} &middot; <strong>{}</strong></p><p class=\"note\">Adyen emulator: test cards only.</p>{}<form method=\"post\" action=\"{}\">{}",
        escape(merchant),
        escape(&amount.display()),
        error_line(error),
        escape(post_url),
        card_fields(true),
    );
    if ask_consent {
        body.push_str("<label><input type=\"checkbox\" name=\"storePaymentMethod\" value=\"true\" style=\"width:auto\"> Save for my next payment</label>");
    }
    body.push_str(&format!(
        "<button type=\"submit\">{}</button></form>",
        if amount.value == 0 {
            "Save card".to_string()
        } else {
            format!("Pay {}", escape(&amount.display()))
        }
    ));
    page("Checkout", &body)
}

/// A plain message page.
pub fn message(title: &str, text: &str) -> String {
    page(title, &format!("<p>{}</p>", escape(text)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
