//! The checks, one module per area of the contract. Each records one [`CheckResult`] per
//! promise; they run one at a time, in the order of [`run_all`], against one loaded gateway.

mod bounds;
mod declines;
mod exports;
mod faults;
mod idempotency;
mod outbound;
mod references;
mod webhooks;

use crate::kit::{Kit, Payer, describe};
use crate::report::{CheckResult, Outcome};
use std::time::Instant;

/// Collects results.
#[derive(Default)]
pub(crate) struct Recorder {
    results: Vec<CheckResult>,
}

impl Recorder {
    /// Runs one check and records its outcome and duration.
    pub(crate) async fn check(
        &mut self,
        id: &str,
        promise: &str,
        check: impl Future<Output = Outcome>,
    ) {
        let started = Instant::now();
        let outcome = check.await;
        self.results.push(CheckResult {
            id: id.into(),
            promise: promise.into(),
            outcome,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
}

/// `Passed`.
pub(crate) fn pass() -> Outcome {
    Outcome::Passed
}

/// `Failed` with a reason.
pub(crate) fn fail(why: impl Into<String>) -> Outcome {
    Outcome::Failed(why.into())
}

/// `NotApplicable` with a reason.
pub(crate) fn not_applicable(why: impl Into<String>) -> Outcome {
    Outcome::NotApplicable(why.into())
}

/// Every check, in order: the set-up every area needs (a customer with a card that succeeds),
/// the exports, then idempotency, input and references, bounds, declines, faults, webhooks, and
/// last what the plugin sent over the whole run.
pub(crate) async fn run_all(kit: &Kit) -> Vec<CheckResult> {
    let mut recorder = Recorder::default();
    let mut payer = None;
    recorder
        .check(
            "setup.customer-and-card",
            "a customer is created and the fixtures' succeeding card stored for it",
            async {
                match kit.payer("payer", &kit.fixtures.cards.succeeds).await {
                    Ok(p) => {
                        payer = Some(p);
                        pass()
                    }
                    Err(e) => fail(format!(
                        "set-up failed, the checks that charge cannot run: {}",
                        describe(&e)
                    )),
                }
            },
        )
        .await;
    exports::run(kit, payer.as_ref(), &mut recorder).await;
    if let Some(payer) = &payer {
        run_charging_areas(kit, payer, &mut recorder).await;
    }
    webhooks::run(kit, &mut recorder).await;
    outbound::run(kit, &mut recorder).await;
    recorder.results
}

async fn run_charging_areas(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    idempotency::run(kit, payer, recorder).await;
    references::run(kit, payer, recorder).await;
    bounds::run(kit, payer, recorder).await;
    declines::run(kit, payer, recorder).await;
    faults::run(kit, payer, recorder).await;
}
