//! The financial summary over a period in one currency, computed from the ledger for every
//! gateway (revenue, payments, refunds, fees, net, disputes and chargebacks) and combined; for a
//! gateway with `metrics`, its own figures beside the ledger's and the differences between the
//! two, for reconciliation.
//!
//! The ledger's figures ([`LedgerFigures`], see [`crate::ledger::Ledger::figures`]): revenue is
//! what was captured by charges paid by a payment of their own plus what paid invoices took
//! (counted by when the charge was made and when the invoice was paid); fees are those the
//! gateway reported with each payment, in the payment's currency; disputes are those opened in
//! the period (inquiries left out), with how many were won and lost; net is revenue less refunds,
//! fees and the amounts of disputes lost or still open.

use serde::Serialize;

use crate::error::Error;
use crate::ledger::{LedgerFigures, Ts};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{Capabilities, FinancialSummary, TimeRange};

/// A figure on which the ledger and the gateway disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The figure, named as the summary names it (`revenue`, `fees`, ...).
    pub field: &'static str,
    /// The ledger's.
    pub ledger: i64,
    /// The gateway's.
    pub gateway: i64,
}

/// One gateway's figures.
#[derive(Debug, Clone)]
pub struct GatewaySummary {
    /// The gateway.
    pub gateway: String,
    /// From the ledger.
    pub ledger: LedgerFigures,
    /// The gateway's own, when it has `metrics` and answered.
    pub gateway_figures: Option<FinancialSummary>,
    /// Why the gateway's own figures are missing although it has `metrics`.
    pub gateway_figures_error: Option<String>,
    /// Where the two disagree (empty without the gateway's figures).
    pub differences: Vec<Difference>,
}

/// The summary of a period in one currency.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Start (inclusive).
    pub from: Ts,
    /// End (exclusive).
    pub to: Ts,
    /// ISO 4217.
    pub currency: String,
    /// Every configured gateway, and any other the ledger has figures of, by name.
    pub gateways: Vec<GatewaySummary>,
    /// The ledger's figures of all of them.
    pub combined: LedgerFigures,
}

/// The figures on which `ledger` and the gateway's `own` disagree.
pub fn differences(ledger: &LedgerFigures, own: &FinancialSummary) -> Vec<Difference> {
    let pairs: [(&'static str, i64, i64); 10] = [
        ("revenue", ledger.revenue, own.gross_volume),
        (
            "successful_payments",
            ledger.successful_payments as i64,
            own.successful_payments as i64,
        ),
        ("refunds", ledger.refunds, own.refunded_amount),
        (
            "refund_count",
            ledger.refund_count as i64,
            own.refund_count as i64,
        ),
        ("fees", ledger.fees, own.fees),
        ("net", ledger.net(), own.net),
        (
            "disputes",
            ledger.disputes_opened as i64,
            own.dispute_count as i64,
        ),
        (
            "disputed_amount",
            ledger.disputed_amount,
            own.disputed_amount,
        ),
        (
            "chargebacks",
            ledger.disputes_lost as i64,
            own.disputes_lost as i64,
        ),
        (
            "chargeback_amount",
            ledger.chargeback_amount,
            own.disputes_lost_amount,
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, l, g)| l != g)
        .map(|(field, ledger, gateway)| Difference {
            field,
            ledger,
            gateway,
        })
        .collect()
}

impl Service {
    /// The summary of `[from, to)` in `currency`: the ledger's figures of every gateway and
    /// combined, each gateway's own beside (those with `metrics`). `gateway`, when named, must
    /// be configured and take the currency.
    pub async fn summary(
        &self,
        gateway: Option<&str>,
        from: Ts,
        to: Ts,
        currency: &str,
    ) -> Result<Summary, Error> {
        let asked = self.gateway_name(gateway)?;
        self.check_currency(currency, gateway.map(|_| asked.as_str()))?;
        if from >= to {
            return Err(Error::invalid("to", "must be after `from`"));
        }
        let c = currency.to_string();
        let mut figures = self.db.run(move |l| l.figures(&c, from, to)).await?;
        for name in self.gateways.names() {
            if !figures.iter().any(|f| f.gateway == name) {
                figures.push(LedgerFigures {
                    gateway: name,
                    ..Default::default()
                });
            }
        }
        figures.sort_by(|a, b| a.gateway.cmp(&b.gateway));
        let mut combined = LedgerFigures {
            gateway: "combined".into(),
            ..Default::default()
        };
        let mut gateways = Vec::with_capacity(figures.len());
        for ledger in figures {
            combined.add(&ledger);
            let (own, error) = self
                .gateway_figures(&ledger.gateway, from, to, currency)
                .await;
            gateways.push(GatewaySummary {
                differences: own
                    .as_ref()
                    .map(|o| differences(&ledger, o))
                    .unwrap_or_default(),
                gateway: ledger.gateway.clone(),
                ledger,
                gateway_figures: own,
                gateway_figures_error: error,
            });
        }
        Ok(Summary {
            from,
            to,
            currency: currency.to_string(),
            gateways,
            combined,
        })
    }

    /// A gateway's own figures, when it has `metrics` (none, with no error, otherwise); a
    /// failure is reported beside the ledger's figures rather than failing the summary.
    async fn gateway_figures(
        &self,
        gateway: &str,
        from: Ts,
        to: Ts,
        currency: &str,
    ) -> (Option<FinancialSummary>, Option<String>) {
        let Some(slot) = self.gateways.get(gateway) else {
            return (None, None);
        };
        if !slot.capabilities().contains(Capabilities::METRICS) {
            return (None, None);
        }
        let range = TimeRange {
            start: from,
            end: to,
        };
        let result = slot
            .call("summarize", RetryPolicy::INTERACTIVE, |g| {
                let c = currency.to_string();
                async move { g.summarize(range, &c).await }
            })
            .await;
        match result {
            Ok(s) => (Some(s), None),
            Err(e) => {
                tracing::warn!(gateway, error = %e, "the gateway's figures are not available");
                (None, Some(Error::from_call(&e).message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_figure_that_disagrees() {
        let ledger = LedgerFigures {
            gateway: "stripe".into(),
            revenue: 10_000,
            successful_payments: 2,
            fees: 320,
            ..Default::default()
        };
        let own = FinancialSummary {
            range: TimeRange { start: 0, end: 1 },
            currency: "USD".into(),
            gross_volume: 10_000,
            successful_payments: 2,
            refunded_amount: 0,
            refund_count: 0,
            fees: 350,
            net: 9_650,
            dispute_count: 0,
            disputed_amount: 0,
            disputes_lost: 0,
            disputes_lost_amount: 0,
        };
        assert_eq!(
            differences(&ledger, &own),
            vec![
                Difference {
                    field: "fees",
                    ledger: 320,
                    gateway: 350
                },
                Difference {
                    field: "net",
                    ledger: 9_680,
                    gateway: 9_650
                },
            ]
        );
    }
}
