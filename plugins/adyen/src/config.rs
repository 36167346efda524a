//! The plugin's settings, read from the host's configuration on every call (each call is a fresh
//! instance), checked, with their defaults. The names and meanings are listed in the crate
//! documentation.

use core::time::Duration;

use omnicrm_gateway_sdk::settings;
use omnicrm_gateway_sdk::types::GatewayError;

/// The Checkout API version every request names: the one place it is pinned.
pub const API_VERSION: &str = "v71";

/// Adyen's test environment.
const DEFAULT_BASE_URL: &str = "https://checkout-test.adyen.com";

/// The `recurringProcessingModel` values (Checkout API v71).
const MODELS: [&str; 3] = ["Subscription", "CardOnFile", "UnscheduledCardOnFile"];

/// The checked settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `base-url` with the API version: `https://checkout-test.adyen.com/v71`.
    pub api: String,
    /// `merchant-account`.
    pub merchant_account: String,
    /// `timeout-ms`: one attempt.
    pub timeout: Duration,
    /// `max-retries`.
    pub max_retries: u32,
    /// `retry-backoff-ms`.
    pub backoff_initial: Duration,
    /// `retry-backoff-max-ms`.
    pub backoff_max: Duration,
    /// `return-url`: where shoppers come back when a request names no return URL.
    pub return_url: Option<String>,
    /// `store-recurring-model`: the `recurringProcessingModel` cards are stored for.
    pub store_model: &'static str,
    /// `client-key`: Adyen Web's key, made to be sent to browsers.
    pub client_key: Option<String>,
    /// `environment`: Adyen Web's environment (`test`, `live`, `live-us`, ...).
    pub environment: String,
    /// `card-form-url`: a hosted card form for CRM pages without Adyen Web (test doubles).
    pub card_form_url: Option<String>,
    /// `default-currency`: the currency of card sessions that name none.
    pub default_currency: String,
}

fn configuration(message: impl Into<String>) -> GatewayError {
    GatewayError::configuration(message)
}

fn number<T: core::str::FromStr>(key: &str, default: T) -> Result<T, GatewayError> {
    settings::get_or(key, default).map_err(|e| configuration(e.to_string()))
}

fn optional(key: &str) -> Option<String> {
    settings::get(key).filter(|v| !v.is_empty())
}

fn http_url(key: &str, value: &str) -> Result<(), GatewayError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(())
    } else {
        Err(configuration(format!(
            "setting `{key}` must be an http(s) URL"
        )))
    }
}

impl Config {
    /// The settings of the current call; `configuration` when one is missing or doesn't parse.
    pub fn load() -> Result<Config, GatewayError> {
        let base = optional("base-url").unwrap_or_else(|| DEFAULT_BASE_URL.into());
        let base = base.trim_end_matches('/');
        http_url("base-url", base)?;
        let last = base.rsplit('/').next().unwrap_or("");
        if last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit())
        {
            return Err(configuration(format!(
                "setting `base-url` must not name the API version: the plugin pins {API_VERSION}"
            )));
        }
        let merchant_account = optional("merchant-account")
            .ok_or_else(|| configuration("setting `merchant-account` is required"))?;
        let return_url = optional("return-url");
        if let Some(url) = &return_url {
            http_url("return-url", url)?;
        }
        let card_form_url = optional("card-form-url");
        if let Some(url) = &card_form_url {
            http_url("card-form-url", url)?;
        }
        let store_model = match optional("store-recurring-model") {
            None => MODELS[0],
            Some(model) => MODELS.into_iter().find(|m| *m == model).ok_or_else(|| {
                configuration(format!(
                    "setting `store-recurring-model` must be one of {}",
                    MODELS.join(", ")
                ))
            })?,
        };
        let default_currency = optional("default-currency").unwrap_or_else(|| "EUR".into());
        Ok(Config {
            api: format!("{base}/{API_VERSION}"),
            merchant_account,
            timeout: Duration::from_millis(number("timeout-ms", 30_000u64)?),
            max_retries: number("max-retries", 2u32)?,
            backoff_initial: Duration::from_millis(number("retry-backoff-ms", 500u64)?),
            backoff_max: Duration::from_millis(number("retry-backoff-max-ms", 5_000u64)?),
            return_url,
            store_model,
            client_key: optional("client-key"),
            environment: optional("environment").unwrap_or_else(|| "test".into()),
            card_form_url,
            default_currency,
        })
    }

    /// The return URL of a request: the request's own, else the `return-url` setting. Adyen
    /// requires one on every payment (`14_030` "Return URL is missing").
    pub fn return_url<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, GatewayError> {
        match requested.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(url),
            Some(_) => Err(GatewayError::invalid_input(
                "return-url",
                "must be an http(s) URL",
            )),
            None => self.return_url.as_deref().ok_or_else(|| {
                configuration(
                    "Adyen needs a return URL on every payment: set `return-url`, or pass one",
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(return_url: Option<&str>) -> Config {
        Config {
            api: format!("{DEFAULT_BASE_URL}/{API_VERSION}"),
            merchant_account: "OmniCRM".into(),
            timeout: Duration::from_secs(30),
            max_retries: 2,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
            return_url: return_url.map(Into::into),
            store_model: MODELS[0],
            client_key: None,
            environment: "test".into(),
            card_form_url: None,
            default_currency: "EUR".into(),
        }
    }

    #[test]
    fn return_urls_come_from_the_request_or_the_setting() {
        let with = config(Some("https://crm.example/back"));
        assert_eq!(with.return_url(None).unwrap(), "https://crm.example/back");
        assert_eq!(
            with.return_url(Some(" ")).unwrap(),
            "https://crm.example/back"
        );
        assert_eq!(
            with.return_url(Some("https://crm.example/portal")).unwrap(),
            "https://crm.example/portal"
        );
        assert!(matches!(
            with.return_url(Some("javascript:alert(1)")),
            Err(GatewayError::InvalidInput(i)) if i.field == "return-url"
        ));
        assert!(matches!(
            config(None).return_url(None),
            Err(GatewayError::Configuration(f)) if f.message.contains("return-url")
        ));
    }
}
