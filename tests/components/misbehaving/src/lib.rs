//! A gateway component that misbehaves on request, for the host's sandbox tests.
//!
//! It exports the whole `omnicrm:payments/gateway` contract at version 0.1.0 (bindings generated
//! here from `wit/v0.1.0`, so it also exercises the host's 0.1 path), so the host loads it like
//! any gateway, but only `charging.charge` and `tokens.store-card` do anything interesting.
//! `charge` looks at the request's `description`:
//!
//! | description    | behaviour |
//! |----------------|-----------|
//! | `trap`, `trap:<text>` | panics (with `<text>` as the message); the component is built with `panic = "abort"`, so the call traps. The panic message goes to stderr first. |
//! | `loop`         | loops forever in pure computation (a volatile counter the optimizer cannot remove); no host calls. The host's deadline must stop it. |
//! | `grow-memory`  | allocates 1 MiB chunks, writing one byte per 4 KiB page of each, and keeps them all until allocation fails; the allocation failure aborts, i.e. traps. |
//! | `fetch:<url>`  | sends `GET <url>` through `wasi:http/outgoing-handler` (no headers of its own, an empty body, no options) and returns `Err(gateway-error::not-attempted(failure))`, `failure.request-id` none, `failure.message` = `"denied: <code>"` when the host refuses the request or it fails (`<code>` is the `Debug` form of the `wasi:http` `error-code`, e.g. `denied: ErrorCode::HttpRequestDenied`), or `"status: <N>, body: <body>"` when a response arrived (`<body>` is the response body decoded as UTF-8, lossily; `<unreadable body: ...>` when reading it failed). A URL it cannot split into scheme, authority and path gives `"denied: invalid url"`. |
//! | `send:<METHOD>:<url>` | as `fetch:`, with that method (`GET`, `POST`, `PUT`, `TRACE`, `CONNECT`, ... or any other token). |
//! | `header:<name>=<value>:<url>` | as `fetch:`, with that one request header set by the plugin. |
//! | `relay:<url> <sink>` | `fetch:<url>`, then `GET <sink>?got=<hex of the first answer>`: a plugin passing on what it received; the message is `"first: <first answer>; relay: <second answer>"`. |
//! | `repeat:<N>:<url>` | `fetch:<url>` N times in a row; the message is `"repeated: <N> ok"`, or `"request <i> failed: <fetch's message>"`. |
//! | `flood:<N>:<url>` | starts N `GET <url>` at once, then waits for each; the message is `"flood: <ok> ok, <failed> failed"`, followed by `": <first failure>"` when one failed. |
//! | `hoard-bodies:<N>:<url>` | makes N `POST <url>` requests, never sent, and writes into each body as much as its stream accepts without waiting, up to 2 MiB (1 MiB writes); keeps them all. The message is `"hoarded: <N> bodies, <bytes> bytes"` (a `denied: ...` message if making a request failed). |
//! | `hoard-headers:<N>:<bytes>` | makes N header sets (`fields`) and appends 1,000-byte values to each until the host refuses one or the set holds `<bytes>` bytes; keeps them all. The message is `"hoarded: <N> header sets, <bytes> bytes"`. |
//! | `hoard-long-requests:<N>:<bytes>` | makes N requests, never sent, and tries to set an authority, a path and a method of `<bytes>` bytes on each; keeps them all. The message is `"kept: <N> requests; accepted <a> authorities, <p> paths, <m> methods"`. |
//! | `log-flood:<MiB>` | writes MiB mebibytes through `logging.log` (info, 1 KiB lines) and as many through stderr (1 KiB lines), then returns `Ok(payment)` (as below). |
//! | `log:<text>`   | writes `<text>` once through `logging.log` (warn), once to stdout and once to stderr (each followed by a newline), then returns `Ok(payment)` (as below). |
//! | `mac:<secret>` | asks the host for the HMAC-SHA256 of `probe` keyed with the secret `<secret>` and returns `Err(not-attempted)` with the message `"mac: <hex>"`, `"mac: unavailable: <text>"` or `"mac: unknown-secret: <text>"`. |
//! | `fail:<text>`  | returns `Err(gateway-error::outcome-unknown(failure))` with `failure.message` = `<text>` (newlines and all). |
//! | `captured:<N>` | returns `Ok(payment)` (as below) whose `amount-captured` is N. |
//! | `amount:<N>`   | returns `Ok(payment)` (as below) whose `amount.amount` is N. |
//! | `currency:<code>` | returns `Ok(payment)` (as below) whose `amount.currency` is `<code>`. |
//! | `id:<text>`    | returns `Ok(payment)` (as below) whose id is `<text>` (possibly empty). |
//! | `customer:<text>` | returns `Ok(payment)` (as below) whose customer is `<text>`. |
//! | `decline-on-success` | returns `Ok(payment)` (as below), succeeded, with a `last-decline`. |
//! | `huge-id:<MiB>` | returns `Ok(payment)` (as below) whose id is MiB mebibytes of `x`. |
//! | `count`        | adds one to a counter in the instance's memory and returns `Ok(payment)` (as below) whose `amount-captured` is the counter's new value: 1 on every call when each call gets a fresh instance. |
//! | anything else, or none | `Ok(payment)`: status `succeeded`, id `mis_pay_<idempotency-key>`, the request's amount, `amount-captured` = the amount, `amount-refunded` 0, customer, card, description and metadata echoed, `created` 0, no decline, next action or fee. |
//!
//! When the gateway's setting `on-instantiate` is `loop` or `trap`, the component's start
//! function (`_initialize`, run while each instance is made) loops forever or panics: every call,
//! `info.describe` at load included, fails while the instance is being made.
//!
//! `store-card` looks at the token: `last4=<text>`, `expiry=<month>/<year>`, `brand=<text>` and
//! `owner=<customer>` answer the usual card (below) with that last4, expiry, brand or customer.
//!
//! Every other export returns a simple valid value and never fails:
//! - `info.describe`: name `misbehaving`, display name `Misbehaving test gateway`, the crate
//!   version, currencies empty.
//! - `tokens`: `ensure-customer` -> customer `mis_cus_<crm-customer-id>` (created, no default card);
//!   `store-card` -> a visa `4242` card `mis_card_<token>` of the customer given, expiring
//!   12/2034; `list-cards` -> empty; `set-default-card`, `remove-card` -> ok.
//! - `charging`: `capture`, `cancel`, `get-payment` -> a USD 0 payment with the given id (status
//!   `succeeded`, `canceled`, `succeeded`); `refund-payment` -> a succeeded USD refund
//!   `mis_re_<idempotency-key>` of the amount asked (0 when none).
//! - `invoicing`: every operation returns a draft USD invoice with no lines, of the customer
//!   asked (`create-invoice`, id `mis_in_1`) or `mis_cus_1` (the id given); `list-invoices` ->
//!   empty page.
//! - `metrics`: `summarize` -> all-zero figures for the range and currency;
//!   `list-balance-transactions` -> empty page.
//! - `webhooks.verify-event` -> `Err(rejection::missing-signature)`.

mod http;

use std::sync::atomic::{AtomicI64, Ordering};

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "omnicrm:payments/gateway",
    generate_all,
});

use exports::omnicrm::payments::{
    charging::{self, ChargeRequest, Payment, PaymentStatus, Refund, RefundRequest, RefundStatus},
    info::{self, GatewayInfo},
    invoicing::{self, Invoice, InvoiceFilter, InvoicePage, InvoiceRequest, InvoiceStatus},
    metrics::{self, BalanceFilter, BalancePage, FinancialSummary},
    tokens::{self, CardFunding, Customer, CustomerRequest, StoredCard},
    webhooks::{self, GatewayEvent, Rejection},
};
use omnicrm::payments::credentials::{self, CredentialError, MacAlgorithm};
use omnicrm::payments::logging::{self, Level};
use omnicrm::payments::types::{Decline, Failure, GatewayError, Money, PageRequest, TimeRange};

/// The component's implementation of every exported interface.
struct Misbehaving;

/// State that would leak from one call to the next if the host reused instances.
static CALLS_IN_THIS_INSTANCE: AtomicI64 = AtomicI64::new(0);

/// A succeeded payment echoing the request.
fn echo(request: ChargeRequest) -> Payment {
    Payment {
        id: format!("mis_pay_{}", request.idempotency_key),
        status: PaymentStatus::Succeeded,
        amount_captured: request.amount.amount,
        amount: request.amount,
        amount_refunded: 0,
        customer: Some(request.customer),
        card: Some(request.card),
        description: request.description,
        metadata: request.metadata,
        created: 0,
        last_decline: None,
        next_action: None,
        fee: None,
    }
}

export!(Misbehaving);

impl info::Guest for Misbehaving {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "misbehaving".into(),
            display_name: "Misbehaving test gateway".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            currencies: Vec::new(),
        }
    }
}

/// The `not-attempted` error carrying an HTTP behaviour's message.
fn told(message: String) -> Result<Payment, GatewayError> {
    Err(GatewayError::NotAttempted(Failure {
        message,
        request_id: None,
    }))
}

impl charging::Guest for Misbehaving {
    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
        let description = request.description.clone().unwrap_or_default();
        let (behaviour, arg) = description
            .split_once(':')
            .unwrap_or((description.as_str(), ""));
        match behaviour {
            "trap" if arg.is_empty() => panic!("misbehaving: trap requested"),
            "trap" => panic!("{arg}"),
            "loop" => spin_forever(),
            "grow-memory" => grow_memory_until_failure(),
            "count" => {
                let calls = CALLS_IN_THIS_INSTANCE.fetch_add(1, Ordering::Relaxed) + 1;
                let mut payment = echo(request);
                payment.amount_captured = calls;
                Ok(payment)
            }
            "fetch" => told(http::fetch(arg)),
            "send" => told(http::send_with(arg)),
            "header" => told(http::fetch_with_header(arg)),
            "relay" => told(http::relay(arg)),
            "mac" => told(mac(arg)),
            "repeat" => told(http::repeat(arg)),
            "flood" => told(http::flood(arg)),
            "hoard-bodies" => told(http::hoard_bodies(arg)),
            "hoard-headers" => told(http::hoard_headers(arg)),
            "hoard-long-requests" => told(http::hoard_long_requests(arg)),
            "log-flood" => {
                flood_logs(arg.parse().unwrap_or(1));
                Ok(echo(request))
            }
            "log" => {
                log_everywhere(arg);
                Ok(echo(request))
            }
            "fail" => Err(GatewayError::OutcomeUnknown(Failure {
                message: arg.to_string(),
                request_id: None,
            })),
            "captured" => {
                let mut payment = echo(request);
                payment.amount_captured = arg.parse().unwrap_or(i64::MAX);
                Ok(payment)
            }
            "amount" => {
                let mut payment = echo(request);
                payment.amount.amount = arg.parse().unwrap_or(i64::MAX);
                Ok(payment)
            }
            "currency" => {
                let mut payment = echo(request);
                payment.amount.currency = arg.to_string();
                Ok(payment)
            }
            "id" => {
                let mut payment = echo(request);
                payment.id = arg.to_string();
                Ok(payment)
            }
            "customer" => {
                let mut payment = echo(request);
                payment.customer = Some(arg.to_string());
                Ok(payment)
            }
            "decline-on-success" => {
                let mut payment = echo(request);
                payment.last_decline = Some(Decline {
                    code: "card_declined".into(),
                    decline_reason: Some("generic_decline".into()),
                    customer_message: "Your card was declined.".into(),
                    payment: Some(payment.id.clone()),
                    request_id: None,
                });
                Ok(payment)
            }
            "huge-id" => {
                let mut payment = echo(request);
                payment.id = "x".repeat(arg.parse::<usize>().unwrap_or(1) << 20);
                Ok(payment)
            }
            _ => Ok(echo(request)),
        }
    }

    fn capture(
        payment: String,
        _amount: Option<i64>,
        _key: String,
    ) -> Result<Payment, GatewayError> {
        Ok(plain_payment(payment, PaymentStatus::Succeeded))
    }

    fn cancel(payment: String, _key: String) -> Result<Payment, GatewayError> {
        Ok(plain_payment(payment, PaymentStatus::Canceled))
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        Ok(Refund {
            id: format!("mis_re_{}", request.idempotency_key),
            payment: request.payment,
            amount: usd(request.amount.unwrap_or(0)),
            status: RefundStatus::Succeeded,
            reason: request.reason,
            created: 0,
        })
    }

    fn get_payment(payment: String) -> Result<Payment, GatewayError> {
        Ok(plain_payment(payment, PaymentStatus::Succeeded))
    }
}

/// Loops forever without host calls. The counter goes through volatile memory accesses and
/// `black_box`, so the optimizer can neither remove the loop nor prove it side-effect free.
fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        // SAFETY: `counter` is a live, aligned local; volatile access to it is always valid.
        unsafe {
            let value = core::ptr::read_volatile(&counter);
            core::ptr::write_volatile(&mut counter, core::hint::black_box(value.wrapping_add(1)));
        }
    }
}

/// Allocates and touches 1 MiB chunks until the allocator fails, which aborts (traps).
fn grow_memory_until_failure() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        chunks.push(core::hint::black_box(chunk));
        core::hint::black_box(&chunks);
    }
}

/// Writes `text` through `logging.log`, stdout and stderr.
fn log_everywhere(text: &str) {
    use std::io::Write as _;
    logging::log(Level::Warn, text);
    let _ = writeln!(std::io::stdout(), "{text}");
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// `mac:<secret>`: the host's HMAC-SHA256 of `probe` with the secret, or its refusal.
fn mac(secret: &str) -> String {
    match credentials::compute_mac(secret, MacAlgorithm::HmacSha256, b"probe") {
        Ok(mac) => format!(
            "mac: {}",
            mac.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        Err(CredentialError::Unavailable(text)) => format!("mac: unavailable: {text}"),
        Err(CredentialError::UnknownSecret(text)) => format!("mac: unknown-secret: {text}"),
    }
}

/// The component's start function, run while each instance is made (the component model calls
/// a core module's `_initialize` export then): loops or traps when the gateway's setting
/// `on-instantiate` says so.
#[cfg(target_arch = "wasm32")]
#[unsafe(export_name = "_initialize")]
pub extern "C" fn initialize() {
    unsafe extern "C" {
        /// The static constructors, which a reactor's `_initialize` runs first.
        fn __wasm_call_ctors();
    }
    // SAFETY: called once, before any other code of the instance, as the toolchain intends.
    unsafe { __wasm_call_ctors() };
    match omnicrm::payments::config::get("on-instantiate").as_deref() {
        Some("loop") => spin_forever(),
        Some("trap") => panic!("misbehaving: trap while instantiating"),
        _ => {}
    }
}

/// Writes `mib` MiB through `logging.log` and as many through stderr, in 1 KiB lines.
fn flood_logs(mib: usize) {
    use std::io::Write as _;
    let line = "l".repeat(1023);
    let mut stderr = std::io::stderr();
    for _ in 0..mib * 1024 {
        logging::log(Level::Info, &line);
        let _ = writeln!(stderr, "{line}");
    }
}

fn usd(amount: i64) -> Money {
    Money {
        amount,
        currency: "USD".into(),
    }
}

fn plain_payment(id: String, status: PaymentStatus) -> Payment {
    Payment {
        id,
        status,
        amount: usd(0),
        amount_captured: 0,
        amount_refunded: 0,
        customer: None,
        card: None,
        description: None,
        metadata: Vec::new(),
        created: 0,
        last_decline: None,
        next_action: None,
        fee: None,
    }
}

impl tokens::Guest for Misbehaving {
    fn ensure_customer(request: CustomerRequest, _key: String) -> Result<Customer, GatewayError> {
        Ok(Customer {
            id: format!("mis_cus_{}", request.crm_customer_id),
            crm_customer_id: request.crm_customer_id,
            default_card: None,
            created: true,
        })
    }

    fn store_card(
        customer: String,
        token: String,
        make_default: bool,
        _key: String,
    ) -> Result<StoredCard, GatewayError> {
        let mut card = StoredCard {
            id: "mis_card_1".into(),
            customer,
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
            fingerprint: None,
            funding: CardFunding::Credit,
            country: None,
            is_default: make_default,
        };
        match token.split_once('=') {
            Some(("last4", last4)) => card.last4 = last4.into(),
            Some(("brand", brand)) => card.brand = brand.into(),
            Some(("owner", owner)) => card.customer = owner.into(),
            Some(("expiry", expiry)) => {
                let (month, year) = expiry.split_once('/').unwrap_or(("0", "0"));
                card.exp_month = month.parse().unwrap_or(0);
                card.exp_year = year.parse().unwrap_or(0);
            }
            _ => card.id = format!("mis_card_{token}"),
        }
        Ok(card)
    }

    fn list_cards(_customer: String) -> Result<Vec<StoredCard>, GatewayError> {
        Ok(Vec::new())
    }

    fn set_default_card(_customer: String, _card: String) -> Result<(), GatewayError> {
        Ok(())
    }

    fn remove_card(_customer: String, _card: String) -> Result<(), GatewayError> {
        Ok(())
    }
}

fn draft_invoice(id: String, customer: String) -> Invoice {
    Invoice {
        id,
        customer,
        status: InvoiceStatus::Draft,
        number: None,
        currency: "USD".into(),
        lines: Vec::new(),
        subtotal: 0,
        tax: 0,
        total: 0,
        amount_paid: 0,
        amount_remaining: 0,
        hosted_url: None,
        pdf_url: None,
        created: 0,
        due_date: None,
        metadata: Vec::new(),
    }
}

impl invoicing::Guest for Misbehaving {
    fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice("mis_in_1".into(), request.customer))
    }

    fn finalize_invoice(invoice: String, _key: String) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice(invoice, "mis_cus_1".into()))
    }

    fn pay_invoice(
        invoice: String,
        _card: Option<String>,
        _key: String,
    ) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice(invoice, "mis_cus_1".into()))
    }

    fn void_invoice(invoice: String, _key: String) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice(invoice, "mis_cus_1".into()))
    }

    fn mark_uncollectible(invoice: String, _key: String) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice(invoice, "mis_cus_1".into()))
    }

    fn get_invoice(invoice: String) -> Result<Invoice, GatewayError> {
        Ok(draft_invoice(invoice, "mis_cus_1".into()))
    }

    fn list_invoices(
        _filter: InvoiceFilter,
        _page: PageRequest,
    ) -> Result<InvoicePage, GatewayError> {
        Ok(InvoicePage {
            invoices: Vec::new(),
            next_cursor: None,
        })
    }
}

impl metrics::Guest for Misbehaving {
    fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError> {
        Ok(FinancialSummary {
            range,
            currency,
            gross_volume: 0,
            successful_payments: 0,
            refunded_amount: 0,
            refund_count: 0,
            fees: 0,
            net: 0,
            dispute_count: 0,
            disputed_amount: 0,
            disputes_lost: 0,
            disputes_lost_amount: 0,
        })
    }

    fn list_balance_transactions(
        _filter: BalanceFilter,
        _page: PageRequest,
    ) -> Result<BalancePage, GatewayError> {
        Ok(BalancePage {
            transactions: Vec::new(),
            next_cursor: None,
        })
    }
}

impl webhooks::Guest for Misbehaving {
    fn verify_event(
        _headers: Vec<(String, Vec<u8>)>,
        _body: Vec<u8>,
    ) -> Result<GatewayEvent, Rejection> {
        Err(Rejection::MissingSignature)
    }
}
