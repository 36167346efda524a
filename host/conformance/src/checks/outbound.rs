//! What the plugin sent over the whole run: never its own credentials, never a request to a
//! host outside its allow-list.

use super::{Recorder, fail, not_applicable, pass};
use crate::kit::Kit;

pub(crate) async fn run(kit: &Kit, recorder: &mut Recorder) {
    let sent = kit.wiretap.since(0);
    recorder
        .check(
            "outbound.no-authorization-header",
            "the plugin never sets `Authorization` (or the host's credential header) itself",
            async {
                if sent.is_empty() {
                    return not_applicable("the plugin sent no HTTP request during the run");
                }
                let offending: Vec<String> = sent
                    .iter()
                    .filter(|r| !r.credential_headers.is_empty())
                    .map(|r| {
                        format!(
                            "{} {} set {}",
                            r.method,
                            r.url,
                            r.credential_headers.join(", ")
                        )
                    })
                    .collect();
                match offending.first() {
                    None => pass(),
                    Some(first) => fail(format!(
                        "{} of {} requests carried credentials the plugin set, first: {first}",
                        offending.len(),
                        sent.len()
                    )),
                }
            },
        )
        .await;
    recorder
        .check(
            "outbound.allow-list-only",
            "the plugin never calls a host outside its allow-list",
            async {
                if sent.is_empty() {
                    return not_applicable("the plugin sent no HTTP request during the run");
                }
                match sent.iter().find(|r| !r.allowed) {
                    None => pass(),
                    Some(r) => fail(format!(
                        "{} requests refused by the host, first: {} {}",
                        sent.iter().filter(|r| !r.allowed).count(),
                        r.method,
                        r.url
                    )),
                }
            },
        )
        .await;
}
