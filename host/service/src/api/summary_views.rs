//! The answer of `GET /v1/summary`: the ledger's figures of a gateway (at the top level, named as
//! they always were), every gateway's and their combination, and each gateway's own figures
//! beside the ledger's with the differences between the two.

use serde::Serialize;
use utoipa::ToSchema;

use crate::currency::format_amount;
use crate::ledger::{LedgerFigures, LedgerTotals};
use crate::summary::{Difference, GatewaySummary};
use omnicrm_host::contract::FinancialSummary;

/// The ledger's own sums, for cross-checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerTotalsView {
    /// Succeeded (or refunded) charges.
    pub charges: u64,
    /// Captured amount of those charges.
    pub captured: i64,
    /// Refunded amount.
    pub refunded: i64,
    /// Failed charges.
    pub failed: u64,
    /// Transactions still unsettled: charged and pending, processing, unknown or held for
    /// review.
    pub unsettled: u64,
}

impl From<LedgerTotals> for LedgerTotalsView {
    fn from(t: LedgerTotals) -> Self {
        LedgerTotalsView {
            charges: t.charges,
            captured: t.captured,
            refunded: t.refunded,
            failed: t.failed,
            unsettled: t.unsettled,
        }
    }
}

/// Financial figures over the period, in minor units of the summary's currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiguresView {
    /// Money taken: captured charges paid by their own payment, and paid invoices.
    pub revenue: i64,
    /// For people.
    pub revenue_display: String,
    /// How many payments took it.
    pub successful_payments: u64,
    /// Refunded.
    pub refunds: i64,
    /// For people.
    pub refunds_display: String,
    /// Refunds made.
    pub refund_count: u64,
    /// The gateway's fees.
    pub fees: i64,
    /// For people.
    pub fees_display: String,
    /// What reached the account: revenue less refunds, fees and disputed amounts withdrawn.
    pub net: i64,
    /// For people.
    pub net_display: String,
    /// Disputes (chargebacks) opened; inquiries left out.
    pub disputes: u64,
    /// Their amount.
    pub disputed_amount: i64,
    /// Disputes won (the ledger's figures only; gateways report none).
    pub disputes_won: Option<u64>,
    /// Disputes lost.
    pub chargebacks: u64,
    /// Lost to chargebacks.
    pub chargeback_amount: i64,
}

impl FiguresView {
    /// The view of the ledger's figures in `currency`.
    pub fn of_ledger(f: &LedgerFigures, currency: &str) -> Self {
        let fmt = |a: i64| format_amount(a, currency);
        FiguresView {
            revenue: f.revenue,
            revenue_display: fmt(f.revenue),
            successful_payments: f.successful_payments,
            refunds: f.refunds,
            refunds_display: fmt(f.refunds),
            refund_count: f.refund_count,
            fees: f.fees,
            fees_display: fmt(f.fees),
            net: f.net(),
            net_display: fmt(f.net()),
            disputes: f.disputes_opened,
            disputed_amount: f.disputed_amount,
            disputes_won: Some(f.disputes_won),
            chargebacks: f.disputes_lost,
            chargeback_amount: f.chargeback_amount,
        }
    }

    /// The view of a gateway's own figures.
    pub fn of_gateway(s: &FinancialSummary) -> Self {
        let fmt = |a: i64| format_amount(a, &s.currency);
        FiguresView {
            revenue: s.gross_volume,
            revenue_display: fmt(s.gross_volume),
            successful_payments: s.successful_payments,
            refunds: s.refunded_amount,
            refunds_display: fmt(s.refunded_amount),
            refund_count: s.refund_count,
            fees: s.fees,
            fees_display: fmt(s.fees),
            net: s.net,
            net_display: fmt(s.net),
            disputes: s.dispute_count,
            disputed_amount: s.disputed_amount,
            disputes_won: None,
            chargebacks: s.disputes_lost,
            chargeback_amount: s.disputes_lost_amount,
        }
    }
}

/// A figure on which the ledger and the gateway disagree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DifferenceView {
    /// The figure (`revenue`, `successful_payments`, `refunds`, `refund_count`, `fees`, `net`,
    /// `disputes`, `disputed_amount`, `chargebacks`, `chargeback_amount`).
    pub field: String,
    /// The ledger's.
    pub ledger: i64,
    /// The gateway's.
    pub gateway: i64,
    /// `gateway - ledger`.
    pub difference: i64,
}

impl From<&Difference> for DifferenceView {
    fn from(d: &Difference) -> Self {
        DifferenceView {
            field: d.field.to_string(),
            ledger: d.ledger,
            gateway: d.gateway,
            difference: d.gateway - d.ledger,
        }
    }
}

/// One gateway's figures: the ledger's, the gateway's own, and where they disagree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewaySummaryView {
    /// The gateway.
    pub gateway: String,
    /// From the ledger.
    pub figures: FiguresView,
    /// The gateway's own (gateways with metrics).
    pub gateway_figures: Option<FiguresView>,
    /// Why the gateway's own figures are missing although it has metrics.
    pub gateway_figures_error: Option<String>,
    /// Where the ledger's and the gateway's figures disagree.
    pub differences: Vec<DifferenceView>,
}

impl GatewaySummaryView {
    /// The view of one gateway's figures in `currency`.
    pub fn new(g: &GatewaySummary, currency: &str) -> Self {
        GatewaySummaryView {
            gateway: g.gateway.clone(),
            figures: FiguresView::of_ledger(&g.ledger, currency),
            gateway_figures: g.gateway_figures.as_ref().map(FiguresView::of_gateway),
            gateway_figures_error: g.gateway_figures_error.clone(),
            differences: g.differences.iter().map(DifferenceView::from).collect(),
        }
    }
}

/// The financial summary over a period in one currency, computed from the ledger. The figures at
/// the top level are the gateway's named by `gateway` (the one asked, else the default one);
/// `gateways` has every gateway's, `combined` their sum. A gateway with metrics has its own
/// figures beside the ledger's (`gateway_figures`) and the differences listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SummaryView {
    /// The gateway whose figures are at the top level.
    pub gateway: String,
    /// RFC 3339.
    pub from: String,
    /// RFC 3339 (exclusive).
    pub to: String,
    /// ISO 4217.
    pub currency: String,
    /// Where the top-level figures come from: always `ledger`.
    pub source: &'static str,
    /// Money taken: captured charges paid by their own payment, and paid invoices.
    pub revenue: i64,
    /// For people.
    pub revenue_display: String,
    /// How many payments took it.
    pub successful_payments: u64,
    /// Refunded, minor units.
    pub refunds: i64,
    /// For people.
    pub refunds_display: String,
    /// Refunds made.
    pub refund_count: u64,
    /// Fees the gateway reported with the payments, minor units.
    pub fees: i64,
    /// For people.
    pub fees_display: String,
    /// Revenue less refunds, fees and disputed amounts withdrawn (disputes open or lost).
    pub net: i64,
    /// For people.
    pub net_display: String,
    /// Disputes opened in the period (inquiries left out).
    pub disputes: u64,
    /// Disputed, minor units.
    pub disputed_amount: i64,
    /// Of those, won.
    pub disputes_won: u64,
    /// Of those, lost (chargebacks).
    pub chargebacks: u64,
    /// Lost to chargebacks, minor units.
    pub chargeback_amount: i64,
    /// The ledger's own sums over the same period (every gateway).
    pub ledger: LedgerTotalsView,
    /// The gateway's own figures, when it has metrics.
    pub gateway_figures: Option<FiguresView>,
    /// Why the gateway's own figures are missing although it has metrics.
    pub gateway_figures_error: Option<String>,
    /// Where the ledger's and the gateway's figures disagree.
    pub differences: Vec<DifferenceView>,
    /// Every gateway's figures.
    pub gateways: Vec<GatewaySummaryView>,
    /// The ledger's figures of every gateway together.
    pub combined: FiguresView,
}
