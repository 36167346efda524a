//! Console sessions: a random 256-bit id in an HttpOnly cookie naming a session held in memory,
//! with its operator (none before sign-in), its CSRF token (the synchronizer token every form
//! carries), a one-time notice for the next page, and the card forms it started.
//!
//! Sessions live in this process only: a restart signs everyone out, which is the safe side.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cookie::{Cookie, SameSite};

use crate::config::console::Role;

/// The session cookie's name.
pub const COOKIE: &str = "omnicrm_console";

/// Sessions kept at most (signed in or not); the oldest are dropped beyond.
const MAX_SESSIONS: usize = 10_000;

/// How long a session that has not signed in is kept (the sign-in page's CSRF token).
const ANONYMOUS_TTL: Duration = Duration::from_secs(15 * 60);

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The console user's name, or `key:NAME` for an API key.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

impl Operator {
    /// Whether the operator may change anything.
    pub fn can_write(&self) -> bool {
        matches!(self.role, Role::Write | Role::Admin)
    }

    /// Whether the operator may settle by hand a transaction flagged for an operator.
    pub fn can_settle(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A card form started from a customer's page, waiting for the gateway to send the customer
/// back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCardForm {
    /// The CRM customer.
    pub customer_id: String,
    /// The gateway whose form it is.
    pub gateway: String,
    /// The gateway's session id.
    pub session_id: String,
    /// The form's SDK (`stripe-elements`, `adyen-web`): how the token comes back.
    pub sdk: String,
}

/// A one-time message for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Whether it reports a failure.
    pub error: bool,
    /// The text (escaped when shown).
    pub text: String,
}

/// What a request knows of its session.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session id (the cookie's value).
    pub id: String,
    /// The signed-in operator, if any.
    pub operator: Option<Operator>,
    /// The session's CSRF token.
    pub csrf: String,
}

struct Session {
    operator: Option<Operator>,
    csrf: String,
    last_seen: Instant,
    notice: Option<Notice>,
    card_forms: HashMap<String, PendingCardForm>,
}

/// The sessions of this process.
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

/// A random token: 32 bytes, hex.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    /// Sessions that end after `ttl` without a request.
    pub fn new(ttl: Duration) -> Self {
        Sessions {
            inner: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        let ttl = if s.operator.is_some() {
            self.ttl
        } else {
            ANONYMOUS_TTL
        };
        now.duration_since(s.last_seen) > ttl
    }

    /// Starts a session (signed in when `operator` is given); its view.
    pub fn create(&self, operator: Option<Operator>) -> SessionView {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !self.expired(s, now));
            while map.len() >= MAX_SESSIONS {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        let view = SessionView {
            id: random_token(),
            operator: operator.clone(),
            csrf: random_token(),
        };
        map.insert(
            view.id.clone(),
            Session {
                operator,
                csrf: view.csrf.clone(),
                last_seen: now,
                notice: None,
                card_forms: HashMap::new(),
            },
        );
        view
    }

    /// The session `id` names, unless unknown or expired (then it is forgotten); counts as
    /// activity.
    pub fn get(&self, id: &str) -> Option<SessionView> {
        let now = Instant::now();
        let mut map = self.lock();
        let expired = self.expired(map.get(id)?, now);
        if expired {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = now;
        Some(SessionView {
            id: id.to_string(),
            operator: s.operator.clone(),
            csrf: s.csrf.clone(),
        })
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Leaves a notice for the session's next page.
    pub fn set_notice(&self, id: &str, notice: Notice) {
        if let Some(s) = self.lock().get_mut(id) {
            s.notice = Some(notice);
        }
    }

    /// Takes the session's notice, if any.
    pub fn take_notice(&self, id: &str) -> Option<Notice> {
        self.lock().get_mut(id).and_then(|s| s.notice.take())
    }

    /// Remembers a card form the session started, under the nonce its return address carries;
    /// false when the session is gone.
    pub fn add_card_form(&self, id: &str, nonce: String, form: PendingCardForm) -> bool {
        let mut map = self.lock();
        let Some(s) = map.get_mut(id) else {
            return false;
        };
        // A handful at most: an abandoned form is forgotten when more are started.
        if s.card_forms.len() >= 16 {
            s.card_forms.clear();
        }
        s.card_forms.insert(nonce, form);
        true
    }

    /// Takes the card form a return address names: only the session that started it can finish
    /// it, once.
    pub fn take_card_form(&self, id: &str, nonce: &str) -> Option<PendingCardForm> {
        self.lock()
            .get_mut(id)
            .and_then(|s| s.card_forms.remove(nonce))
    }
}

/// The session id a request's `Cookie` headers carry.
pub fn session_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// The `Set-Cookie` value of a session: HttpOnly, SameSite=Lax (the gateway's card form sends
/// the customer back with a top-level GET), path `/console`, Secure unless served on loopback.
pub fn set_cookie(id: &str, secure: bool) -> String {
    Cookie::build((COOKIE, id.to_string()))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
        .to_string()
}

/// The `Set-Cookie` value that clears the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    Cookie::build((COOKIE, ""))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// Compares two tokens in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_card_forms_finish_once() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let anon = sessions.create(None);
        assert_eq!(anon.id.len(), 64);
        assert_ne!(anon.id, anon.csrf);
        let op = Operator {
            name: "ops".into(),
            role: Role::Read,
        };
        let signed = sessions.create(Some(op.clone()));
        assert_eq!(sessions.get(&signed.id).unwrap().operator, Some(op));
        let form = PendingCardForm {
            customer_id: "c".into(),
            gateway: "stripe".into(),
            session_id: "seti_1".into(),
            sdk: "stripe-elements".into(),
        };
        let nonce = random_token();
        assert!(sessions.add_card_form(&signed.id, nonce.clone(), form.clone()));
        assert!(sessions.take_card_form(&anon.id, &nonce).is_none());
        assert_eq!(sessions.take_card_form(&signed.id, &nonce), Some(form));
        assert!(sessions.take_card_form(&signed.id, &nonce).is_none());
        sessions.remove(&signed.id);
        assert!(sessions.get(&signed.id).is_none());
        let short = Sessions::new(Duration::ZERO);
        let s = short.create(Some(Operator {
            name: "x".into(),
            role: Role::Write,
        }));
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get(&s.id).is_none(), "expired");
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_off_loopback() {
        let c = set_cookie("abc", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(c.contains("Path=/console"));
        assert!(!set_cookie("abc", false).contains("Secure"));
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; omnicrm_console=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert!(same_token("abc", "abc") && !same_token("abc", "abd") && !same_token("a", "ab"));
    }
}
