//! What the plugin reads of a response: the body with the plugin's between-bytes timeout,
//! scanned for the credentials the host added when it added any, and holding the exchange's
//! host buffer charge until it is finished or dropped.

use crate::diagnostics::Charge;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use wasmtime_wasi_http::Error as HttpError;
use zeroize::Zeroizing;

/// What the plugin is told of a response the host withheld.
pub(crate) const WITHHELD: &str =
    "the host withheld the response: it contained a credential the host added";

/// The secret values a response must not contain, looked for across frames: the last bytes of
/// each frame (one less than the longest value) are held back until the next frame shows they
/// do not start one.
pub(crate) struct Scanner {
    needles: Vec<Zeroizing<Vec<u8>>>,
    held_back: Zeroizing<Vec<u8>>,
    keep: usize,
}

/// A credential was found.
#[derive(Debug)]
pub(crate) struct Reflected;

impl Scanner {
    /// A scanner for `needles`, or none when there is nothing to look for.
    pub(crate) fn new(needles: Vec<Zeroizing<Vec<u8>>>) -> Option<Scanner> {
        let longest = needles.iter().map(|n| n.len()).max()?;
        Some(Scanner {
            needles,
            held_back: Zeroizing::new(Vec::new()),
            keep: longest - 1,
        })
    }

    /// Whether `bytes` contain one of the values.
    pub(crate) fn finds_in(&self, bytes: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|n| memchr::memmem::find(bytes, n).is_some())
    }

    /// Whether a header value contains one of the values.
    pub(crate) fn finds_in_headers(&self, headers: &HeaderMap) -> bool {
        headers.values().any(|v| self.finds_in(v.as_bytes()))
    }

    /// The data that can be handed on after `data`: what was held back and `data`, less the
    /// new tail held back.
    fn feed(&mut self, data: &[u8]) -> Result<Bytes, Reflected> {
        let mut seen = BytesMut::with_capacity(self.held_back.len() + data.len());
        seen.extend_from_slice(&self.held_back);
        seen.extend_from_slice(data);
        if self.finds_in(&seen) {
            return Err(Reflected);
        }
        let tail = seen.len().saturating_sub(self.keep);
        self.held_back.clear();
        self.held_back.extend_from_slice(&seen[tail..]);
        seen.truncate(tail);
        Ok(seen.freeze())
    }

    /// What was held back, at the end of the body.
    fn finish(&mut self) -> Bytes {
        let rest = Bytes::copy_from_slice(&self.held_back);
        self.held_back.clear();
        rest
    }
}

/// A response body as the plugin reads it.
pub(crate) struct ResponseBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
    scanner: Option<Scanner>,
    /// Called with no argument when a credential is found (to record it for the call).
    on_reflection: Option<Box<dyn FnOnce() + Send>>,
    /// The exchange's host buffer charge.
    charge: Option<Charge>,
    /// A frame that waits for the held-back data before it (trailers).
    pending: Option<Frame<Bytes>>,
    finished: bool,
}

impl ResponseBody {
    /// The body of a response, read within `timeout` between frames, scanned by `scanner` (whose
    /// finding calls `on_reflection`), holding `charge` until it ends.
    pub(crate) fn new(
        incoming: hyper::body::Incoming,
        timeout: tokio::time::Interval,
        scanner: Option<(Scanner, Box<dyn FnOnce() + Send>)>,
        charge: Charge,
    ) -> Self {
        let (scanner, on_reflection) = match scanner {
            Some((scanner, on_reflection)) => (Some(scanner), Some(on_reflection)),
            None => (None, None),
        };
        ResponseBody {
            incoming,
            timeout,
            scanner,
            on_reflection,
            charge: Some(charge),
            pending: None,
            finished: false,
        }
    }

    /// Ends the body: the exchange's charge is released.
    fn end(&mut self) {
        self.finished = true;
        self.charge = None;
    }

    /// Ends the body because a credential was found in it.
    fn withhold(&mut self) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        self.end();
        self.scanner = None;
        if let Some(record) = self.on_reflection.take() {
            record();
        }
        Poll::Ready(Some(Err(HttpError::InternalError(Some(WITHHELD.into())))))
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        if let Some(frame) = this.pending.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.end();
                match this.scanner.as_mut().map(Scanner::finish) {
                    Some(rest) if !rest.is_empty() => Poll::Ready(Some(Ok(Frame::data(rest)))),
                    _ => Poll::Ready(None),
                }
            }
            Poll::Ready(Some(Err(err))) => {
                this.end();
                Poll::Ready(Some(Err(if err.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    HttpError::from(err)
                })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.timeout.reset();
                let Some(scanner) = this.scanner.as_mut() else {
                    return Poll::Ready(Some(Ok(frame)));
                };
                match frame.into_data() {
                    Ok(data) => match scanner.feed(&data) {
                        Ok(clean) => Poll::Ready(Some(Ok(Frame::data(clean)))),
                        Err(Reflected) => this.withhold(),
                    },
                    Err(frame) => {
                        if frame
                            .trailers_ref()
                            .is_some_and(|t| scanner.finds_in_headers(t))
                        {
                            return this.withhold();
                        }
                        let rest = scanner.finish();
                        if rest.is_empty() {
                            Poll::Ready(Some(Ok(frame)))
                        } else {
                            this.pending = Some(frame);
                            Poll::Ready(Some(Ok(Frame::data(rest))))
                        }
                    }
                }
            }
            Poll::Pending => {
                ready!(this.timeout.poll_tick(cx));
                this.end();
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.pending.is_some() {
            return false;
        }
        if self.finished {
            return true;
        }
        self.scanner.is_none() && self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.scanner.is_none() && !self.finished {
            self.incoming.size_hint()
        } else {
            http_body::SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner(needles: &[&str]) -> Scanner {
        Scanner::new(
            needles
                .iter()
                .map(|n| Zeroizing::new(n.as_bytes().to_vec()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_secret_split_across_frames_is_found_before_any_of_it_is_handed_on() {
        let mut s = scanner(&["sk_live_SECRET"]);
        let mut handed_on = Vec::new();
        for part in ["{\"echo\": \"Bearer sk_li", "ve_SEC", "RET\"}"] {
            match s.feed(part.as_bytes()) {
                Ok(clean) => handed_on.extend_from_slice(&clean),
                Err(Reflected) => {
                    let text = String::from_utf8_lossy(&handed_on);
                    assert!(!text.contains("sk_live_SECRET"), "{text}");
                    assert!(!text.contains("sk_li"), "the start was held back: {text}");
                    return;
                }
            }
        }
        panic!("not found");
    }

    #[test]
    fn clean_bodies_pass_whole() {
        let mut s = scanner(&["sk_live_SECRET", "c2tfbGl2ZV9TRUNSRVQ6"]);
        let mut out = Vec::new();
        for part in ["hello ", "world, sk_live_", "SECRE", "! not here", ""] {
            out.extend_from_slice(&s.feed(part.as_bytes()).unwrap());
        }
        out.extend_from_slice(&s.finish());
        assert_eq!(out, b"hello world, sk_live_SECRE! not here");
        let headers: HeaderMap = [(
            http::header::CONTENT_TYPE,
            "x; echo=sk_live_SECRET".parse().unwrap(),
        )]
        .into_iter()
        .collect();
        assert!(s.finds_in_headers(&headers));
    }
}
