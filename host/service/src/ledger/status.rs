//! The states and kinds the ledger stores as text: one enum each, with its stored (and JSON)
//! spelling.

use serde::{Deserialize, Serialize};

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant),+
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored (and JSON) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Where a transaction stands.
    TxnStatus {
        /// Recorded, not charged yet (due for a billing run or an invoice).
        Pending => "pending",
        /// The gateway is working on it.
        Processing => "processing",
        /// The customer must authenticate (3-D Secure).
        RequiresAction => "requires_action",
        /// Authorized; waiting for capture or void.
        Authorized => "authorized",
        /// The money was taken (or, for a credit, granted).
        Succeeded => "succeeded",
        /// Declined or failed: no money was taken.
        Failed => "failed",
        /// Voided: no money was taken.
        Canceled => "canceled",
        /// Refunded in full.
        Refunded => "refunded",
        /// Refunded in part.
        PartiallyRefunded => "partially_refunded",
        /// The gateway call's outcome is unknown; the reconciler settles it.
        Unknown => "unknown",
        /// The gateway's answer broke the contract: money may have moved. Nothing moves it on
        /// its own and it is never counted as money taken; an operator checks the payment at
        /// the gateway.
        HeldForReview => "held_for_review",
    }
);

str_enum!(
    /// Charge (money from the customer) or credit (money owed to the customer).
    TxnKind {
        /// Taken from the customer's card.
        Charge => "charge",
        /// Owed to the customer; deducted on an invoice.
        Credit => "credit",
    }
);

str_enum!(
    /// When a charge is captured.
    Capture {
        /// At once.
        Automatic => "automatic",
        /// Authorize only; capture or void later.
        Manual => "manual",
    }
);

str_enum!(
    /// Where a refund stands.
    RefundStatus {
        /// Written, not confirmed by the gateway yet.
        Pending => "pending",
        /// The gateway needs an action.
        RequiresAction => "requires_action",
        /// Done.
        Succeeded => "succeeded",
        /// Failed: no money moved.
        Failed => "failed",
        /// Canceled: no money moved.
        Canceled => "canceled",
        /// The outcome is unknown; the reconciler settles it.
        Unknown => "unknown",
    }
);

str_enum!(
    /// The life of an invoice.
    InvoiceStatus {
        /// Being prepared.
        Draft => "draft",
        /// Finalized, waiting for payment.
        Open => "open",
        /// Paid in full.
        Paid => "paid",
        /// Cancelled.
        Void => "void",
        /// Written off (can still be paid or voided).
        Uncollectible => "uncollectible",
    }
);

str_enum!(
    /// Where a dispute stands.
    DisputeStatus {
        /// An inquiry; no money moved.
        Warning => "warning",
        /// Open; the amount was withdrawn.
        Open => "open",
        /// Closed in the merchant's favour.
        Won => "won",
        /// Closed in the cardholder's favour.
        Lost => "lost",
    }
);

impl DisputeStatus {
    /// Position in the forward-only order warning < open < won|lost.
    pub fn rank(self) -> u8 {
        match self {
            DisputeStatus::Warning => 0,
            DisputeStatus::Open => 1,
            DisputeStatus::Won | DisputeStatus::Lost => 2,
        }
    }
}

str_enum!(
    /// What a gateway operation of the intent log does.
    OpKind {
        /// Charge (or authorize) a transaction.
        Charge => "charge",
        /// Capture an authorized transaction.
        Capture => "capture",
        /// Void an authorized transaction.
        Cancel => "cancel",
        /// Refund a transaction.
        Refund => "refund",
        /// Create an invoice at the gateway.
        InvoiceCreate => "invoice_create",
        /// Finalize an invoice.
        InvoiceFinalize => "invoice_finalize",
        /// Pay an invoice with a stored card.
        InvoicePay => "invoice_pay",
        /// Void an invoice.
        InvoiceVoid => "invoice_void",
        /// Pay an invoice kept in the ledger by charging its total to a stored card.
        InvoiceCharge => "invoice_charge",
        /// Finish a payment after the customer's action (3-D Secure).
        CompleteAction => "complete_action",
    }
);

str_enum!(
    /// Where an operation of the intent log stands.
    OpState {
        /// Written; the call was not made or its result not recorded yet.
        Pending => "pending",
        /// The call's outcome is unknown: it must be repeated with the same key.
        Unknown => "unknown",
        /// Settled with the gateway's answer.
        Done => "done",
        /// Settled as failed (declined, rejected): nothing moved.
        Failed => "failed",
        /// Accepted by the gateway, whose outcome comes later (a `pending` capture, void or
        /// refund): settled by an event or a lookup, never repeated.
        Waiting => "waiting",
    }
);

str_enum!(
    /// Where a capture of an authorization stands.
    CaptureStatus {
        /// Written; the gateway has not settled it yet (or answered `pending`).
        Pending => "pending",
        /// The money was taken.
        Succeeded => "succeeded",
        /// Refused: the authorization stays as it was.
        Failed => "failed",
        /// The call's outcome is unknown; the reconciler settles it.
        Unknown => "unknown",
    }
);

str_enum!(
    /// Who starts a charge of a stored card, and why (the card networks' stored-credential
    /// rules).
    Initiator {
        /// The customer is present (a top-up on the self-care portal): the gateway may ask them
        /// to authenticate, and they come back to the charge's return URL.
        Customer => "customer",
        /// A charge on a schedule the customer agreed to (billing runs, monthly bills).
        MerchantRecurring => "merchant_recurring",
        /// A charge when needed, without a fixed schedule (usage, one-off fees).
        MerchantUnscheduled => "merchant_unscheduled",
    }
);

str_enum!(
    /// Who keeps an invoice: the gateway (`invoicing` capability) or the ledger, which pays it by
    /// charging the card.
    InvoiceKeeper {
        /// Created, finalized, paid and voided at the gateway.
        Gateway => "gateway",
        /// Kept in the ledger; paid by a charge of its total.
        Ledger => "ledger",
    }
);
