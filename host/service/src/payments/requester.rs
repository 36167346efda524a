//! Who asks for a change of a transaction or an invoice, and so which unsettled operation it may
//! resume: the service itself settles any of the kind it asks for; an API request resumes only the
//! one it wrote (the same request repeated with its `Idempotency-Key`), and never reports another
//! request's outcome as its own.

use crate::keys::digest;
use crate::ledger::new_key;

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester<'a> {
    /// The service itself: a billing run, the command line, the reconciler.
    Service,
    /// An API request, with the key derived from its `Idempotency-Key` (and its body) when it
    /// sent one.
    Client(Option<&'a str>),
}

impl Requester<'_> {
    /// The part of an operation's key that names this request: derived from the client's key,
    /// so that the request repeated writes (or finds) the same operation; fresh otherwise.
    pub fn key_part(self) -> String {
        match self {
            Requester::Client(Some(k)) => digest(&[k]),
            _ => digest(&[&new_key("x")]),
        }
    }

    /// Whether an operation whose key is `op_key` (of the kind asked for) is this requester's
    /// to resume.
    pub fn resumes(self, op_key: &str) -> bool {
        match self {
            Requester::Service => true,
            Requester::Client(Some(k)) => op_key.ends_with(&format!(":{}", digest(&[k]))),
            Requester::Client(None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_resumes_only_its_own_operation() {
        let mine = Requester::Client(Some("k1"));
        let key = format!("txn-1:capture:{}", mine.key_part());
        assert_eq!(mine.key_part(), mine.key_part(), "stable for a key");
        assert!(mine.resumes(&key));
        assert!(!Requester::Client(Some("k2")).resumes(&key));
        assert!(!Requester::Client(None).resumes(&key));
        assert!(Requester::Service.resumes(&key));
        assert_ne!(
            Requester::Client(None).key_part(),
            Requester::Client(None).key_part()
        );
    }
}
