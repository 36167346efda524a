//! Balance transactions: every movement of money, with its fee and net.

use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::state::{Object, Page, State, new_id};

/// Funds from a charge become available after this long (unless `bypassPending`).
pub const PENDING_SECS: i64 = 2 * 24 * 60 * 60;

/// One fee line.
#[derive(Debug, Clone, Serialize)]
pub struct FeeDetail {
    /// Amount, minor units.
    pub amount: i64,
    /// Always null.
    pub application: Option<String>,
    /// Currency.
    pub currency: String,
    /// Description.
    pub description: &'static str,
    /// `stripe_fee`
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A balance transaction.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceTransaction {
    /// `txn_...`
    pub id: String,
    /// `balance_transaction`
    pub object: &'static str,
    /// Gross amount, signed.
    pub amount: i64,
    /// When the funds are available.
    pub available_on: i64,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// Always null.
    pub exchange_rate: Option<f64>,
    /// Total fee.
    pub fee: i64,
    /// Fee lines.
    pub fee_details: Vec<FeeDetail>,
    /// `amount - fee`.
    pub net: i64,
    /// `charge`, `refund`, `dispute`, `dispute_reversal`.
    pub reporting_category: &'static str,
    /// The charge, refund or dispute.
    pub source: String,
    /// `pending` or `available` (from the clock when rendered).
    pub status: &'static str,
    /// `charge`, `refund`, `adjustment`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Object for BalanceTransaction {
    const NAME: &'static str = "balance transaction";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
    fn render(&self, state: &State) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["status"] = if state.now >= self.available_on {
            "available".into()
        } else {
            "pending".into()
        };
        v
    }
}

/// What a new transaction records.
#[derive(Debug)]
pub struct NewTransaction<'a> {
    /// Signed gross amount.
    pub amount: i64,
    /// Currency.
    pub currency: &'a str,
    /// Fee lines: (amount, description).
    pub fees: Vec<(i64, &'static str)>,
    /// `type`
    pub kind: &'static str,
    /// `reporting_category`
    pub category: &'static str,
    /// Source object id.
    pub source: &'a str,
    /// Description.
    pub description: Option<String>,
    /// Funds available at once.
    pub available_now: bool,
}

/// Records a transaction and returns its id.
pub fn record(st: &mut State, t: NewTransaction<'_>) -> String {
    let id = new_id("txn");
    let fee: i64 = t.fees.iter().map(|(a, _)| a).sum();
    let fee_details = t
        .fees
        .iter()
        .map(|(amount, description)| FeeDetail {
            amount: *amount,
            application: None,
            currency: t.currency.to_string(),
            description,
            kind: "stripe_fee",
        })
        .collect();
    let txn = BalanceTransaction {
        id: id.clone(),
        object: "balance_transaction",
        amount: t.amount,
        available_on: if t.available_now {
            st.now
        } else {
            st.now + PENDING_SECS
        },
        created: st.now,
        currency: t.currency.to_string(),
        description: t.description,
        exchange_rate: None,
        fee,
        fee_details,
        net: t.amount - fee,
        reporting_category: t.category,
        source: t.source.to_string(),
        status: "pending",
        kind: t.kind,
    };
    let seq = st.next_seq();
    st.balance_transactions.insert(seq, txn);
    id
}

/// `GET /v1/balance_transactions/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.balance_transactions.find(id, "id")?.render(st))
}

/// `GET /v1/balance_transactions` (filters: `created`, `type`, `currency`, `source`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "type",
        "currency",
        "source",
        "payout",
    ])?;
    let page = Page::parse(p)?;
    let kind = p.non_empty("type")?;
    let currency = p.non_empty("currency")?.map(str::to_ascii_lowercase);
    let source = p.non_empty("source")?;
    let (items, has_more) = st.balance_transactions.page(&page, |t| {
        kind.is_none_or(|k| t.kind == k)
            && currency.as_deref().is_none_or(|c| t.currency == c)
            && source.is_none_or(|s| t.source == s)
    })?;
    Ok(st.render_list("/v1/balance_transactions", &items, has_more))
}

/// `GET /v1/balance`: the sums of available and pending funds per currency.
pub fn balance(st: &mut State) -> Result<Value, ApiError> {
    use std::collections::BTreeMap;
    let mut available: BTreeMap<&str, i64> = BTreeMap::new();
    let mut pending: BTreeMap<&str, i64> = BTreeMap::new();
    for t in st.balance_transactions.iter() {
        let bucket = if st.now >= t.available_on {
            &mut available
        } else {
            &mut pending
        };
        *bucket.entry(t.currency.as_str()).or_default() += t.net;
    }
    let to_list = |m: &BTreeMap<&str, i64>| -> Vec<Value> {
        m.iter()
            .map(|(c, a)| serde_json::json!({"amount": a, "currency": c, "source_types": {"card": a}}))
            .collect()
    };
    Ok(serde_json::json!({
        "object": "balance",
        "available": to_list(&available),
        "pending": to_list(&pending),
        "livemode": false,
    }))
}
