//! Measurements 5 (`omnicrm-pay serve` over its HTTP API) and 7 (a billing run), with the
//! emulator's own capacity for the same charge requests.

use crate::measure::{Bench, BenchRef, concurrent, errors_note};
use crate::stats::{Row, Verdict};
use anyhow::Result;
use std::sync::Arc;

/// The emulator's capacity for the charge request (native keep-alive client), and the service.
pub async fn serve(bench: &mut Bench) -> Result<()> {
    let total = bench.options.count(6000, 300);
    let shared = Arc::new(BenchRef::new(bench));
    let mut emulator_rate_64 = None;
    for c in [1usize, 16, 64] {
        let client = bench.native.clone();
        let s = shared.clone();
        let n = if c == 1 { total / 3 } else { total };
        let (samples, wall, errors, first) = concurrent(n, c, move || {
            let s = s.clone();
            let c = client.clone();
            async move { s.native_charge(&c).await.map(|_| ()) }
        })
        .await;
        let rate = samples.len() as f64 / wall.as_secs_f64();
        if c == 64 {
            emulator_rate_64 = Some(rate);
        }
        bench.rows.push(
            Row::new(
                5,
                format!("emulator capacity: charge from native keep-alive client, c={c}"),
                samples,
            )
            .rate(rate)
            .note(errors_note(errors, &first)),
        );
    }
    let _ = emulator_rate_64;
    bench.verdicts.push(Verdict {
        section: 5,
        target: "service at c=64 >= 0.5x the emulator's rate".into(),
        met: None,
        figure: "the service's `serve` is not available yet".into(),
    });
    Ok(())
}

/// A billing run of 10,000 charges.
pub async fn billing_run(bench: &mut Bench) -> Result<()> {
    bench.verdicts.push(Verdict {
        section: 7,
        target: "billing run of 10,000 charges (wall time, charges/s; no target)".into(),
        met: None,
        figure: "the service's `billing-run` is not available yet".into(),
    });
    Ok(())
}
