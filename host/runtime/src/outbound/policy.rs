//! Where a gateway's plugin may send requests: the allow-list of origins (scheme, host, port),
//! decided on the request's URL alone, and the form of URLs in logs.

use http::uri::Scheme;
use std::net::{IpAddr, Ipv6Addr};

/// One allowed origin: scheme, lower-case host (IPv6 without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The form of a URL host that origins are compared in: lower case, without one trailing dot,
/// IP addresses in their standard text form (IPv6 without brackets). `None` for a host that
/// cannot be compared safely: empty, or brackets around something that is not an IPv6 address
/// (connectors strip brackets, so `[api.example.com]` would reach `api.example.com`).
fn canonical_host(host: &str) -> Option<String> {
    if let Some(bracketed) = host.strip_prefix('[') {
        let ip = bracketed.strip_suffix(']')?.parse::<Ipv6Addr>().ok()?;
        return Some(ip.to_string());
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(host.to_ascii_lowercase()),
    }
}

/// Whether a host is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    match canonical_host(host) {
        Some(host) if host == "localhost" => true,
        Some(host) => host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Origin {
    /// Parses a configured origin: `https://host[:port]` (any host) or `http://host[:port]`
    /// (loopback hosts only). No path, query, user or fragment.
    pub(crate) fn parse(text: &str) -> Result<Origin, String> {
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(format!(
                    "`{text}`: scheme {other} is not allowed (https only)"
                ));
            }
        };
        let host = url
            .host_str()
            .and_then(canonical_host)
            .ok_or_else(|| format!("`{text}` has no host"))?;
        if !https && !is_loopback(&host) {
            return Err(format!(
                "`{text}`: plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); use https"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{text}`: an origin has no user or password"));
        }
        if !(url.path() == "/" || url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "`{text}`: an origin is scheme://host[:port], without path, query or fragment"
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("`{text}` has no port"))?;
        Ok(Origin { https, host, port })
    }

    /// The origin a request goes to, from its URL.
    fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = canonical_host(authority.host())?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Origin { https, host, port })
    }
}

/// The allowed origins of one gateway.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutboundPolicy {
    origins: Vec<Origin>,
}

impl OutboundPolicy {
    pub(crate) fn new(allowed: &[String]) -> Result<Self, String> {
        let origins = allowed
            .iter()
            .map(|o| Origin::parse(o))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OutboundPolicy { origins })
    }

    /// Whether a request to `uri` is allowed: decided on the URL alone.
    pub(crate) fn allows(&self, uri: &http::Uri) -> bool {
        Origin::of_uri(uri).is_some_and(|origin| self.origins.contains(&origin))
    }
}

/// The URL without its query (which may carry identifiers), for logs.
pub(crate) fn redact_query(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    format!("{scheme}://{authority}{}", uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&origins.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn origins_parse() {
        assert!(Origin::parse("https://api.stripe.com").is_ok());
        assert!(Origin::parse("https://api.stripe.com/").is_ok());
        assert!(Origin::parse("http://127.0.0.1:12111").is_ok());
        assert!(Origin::parse("http://127.9.9.9:1").is_ok());
        assert!(Origin::parse("http://[::1]:8080").is_ok());
        assert!(Origin::parse("http://localhost:8080").is_ok());
        let err = Origin::parse("http://api.stripe.com").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(Origin::parse("http://10.0.0.1").is_err());
        assert!(Origin::parse("ftp://api.stripe.com").is_err());
        assert!(Origin::parse("https://api.stripe.com/v1").is_err());
        assert!(Origin::parse("https://user:pw@api.stripe.com").is_err());
        assert!(Origin::parse("api.stripe.com").is_err());
    }

    #[test]
    fn decides_on_the_url() {
        let p = policy(&[
            "https://api.stripe.com",
            "http://127.0.0.1:8080",
            "http://[::1]:9000",
        ]);
        let allows = |u: &str| p.allows(&u.parse::<http::Uri>().unwrap());
        assert!(allows("https://api.stripe.com/v1/charges?x=1"));
        assert!(allows("https://API.Stripe.com:443/v1"));
        assert!(allows("https://api.stripe.com./v1"));
        assert!(allows("http://127.0.0.1:8080/x"));
        assert!(allows("http://[::1]:9000/x"));
        assert!(!allows("http://api.stripe.com/v1"), "scheme must match");
        assert!(!allows("https://api.stripe.com:8443/v1"), "port must match");
        assert!(!allows("https://evil.com/v1"));
        assert!(!allows("https://api.stripe.com.evil.com/v1"));
        assert!(!allows("https://api.stripe.com@evil.com/v1"));
        assert!(!allows("http://127.0.0.1:8081/x"));
        assert!(!allows("/relative"));
    }

    #[test]
    fn hosts_are_compared_in_canonical_form() {
        let p = policy(&["https://api.stripe.com", "http://[0:0::1]:9000"]);
        // A URL that `http::Uri` refuses never reaches the hook: count it as denied.
        let allows = |u: &str| u.parse::<http::Uri>().is_ok_and(|u| p.allows(&u));
        assert!(allows("http://[::1]:9000/x"), "IPv6 in any text form");
        assert!(allows("http://[0:0:0:0:0:0:0:1]:9000/x"));
        assert!(
            allows("https://api.stripe.com:/v1"),
            "empty port is the default"
        );
        // Brackets around a name: connectors strip them, so it must not pass as the name.
        assert!(!allows("https://[api.stripe.com]/v1"));
        assert!(
            !allows("https://api.stripe.com../v1"),
            "one trailing dot only"
        );
        assert!(!allows("https://api.stripe.com%2e/v1"));
        // Another spelling of an allowed IP is denied rather than guessed at.
        let p = policy(&["http://127.0.0.1:8080"]);
        assert!(!p.allows(&"http://127.1:8080/".parse().unwrap()));
        assert!(!p.allows(&"http://[::ffff:127.0.0.1]:8080/".parse().unwrap()));
        assert!(p.allows(&"http://127.0.0.1.:8080/".parse().unwrap()));
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("localhost.evil.com"));
        assert!(!is_loopback("[localhost]"));
        assert!(!is_loopback("[127.0.0.1]"));
    }
}
