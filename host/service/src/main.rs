//! `omnicrm-pay`: the OmniCRM payments service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};

use omnicrm_pay::billing_run::{self, BillingOptions};
use omnicrm_pay::config::{ServiceConfig, generate_api_key, hash_api_key};
use omnicrm_pay::demo::{self, DemoOptions};
use omnicrm_pay::payments::operator::{OperatorOutcome, OperatorSettlement};
use omnicrm_pay::{reconcile, server};

#[derive(Parser)]
#[command(
    name = "omnicrm-pay",
    version,
    about = "OmniCRM Payments: the payments service the CRM calls",
    long_about = "OmniCRM Payments: links CRM customers to payment gateways, stores cards as gateway tokens, \
charges transactions exactly once, refunds, invoices, disputes and financial summaries. Gateways are \
WebAssembly plugins (Stripe, Adyen, offline) loaded at run time from a TOML configuration file.\n\n\
Start with `omnicrm-pay demo`: it needs nothing but the built plugins.",
    after_help = "Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=omnicrm_pay=debug,omnicrm_host=debug) for more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP JSON API (OpenAPI document at /openapi.json).
    ///
    /// Opens (and migrates) the ledger and serves at once; the configured gateways load in the
    /// background (/health and /v1/gateways show which are loading or failed, and calls to a
    /// gateway not loaded are answered 503 at once). Operations an earlier run left with an
    /// unknown outcome are reconciled in the background, then periodically, a bounded number of
    /// times each before their transaction is flagged for an operator; component files are watched and a changed one is loaded without a restart
    /// (calls in flight finish on the old one). Stops cleanly on Ctrl-C or SIGTERM.
    Serve {
        /// The configuration file.
        #[arg(
            short,
            long,
            default_value = "omnicrm-pay.toml",
            env = "OMNICRM_PAY_CONFIG"
        )]
        config: PathBuf,
        /// Listen here instead of the configured address (e.g. 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Charge every due transaction and pay every open invoice, then print a summary.
    ///
    /// Due transactions are pending charges not on an invoice (created with "charge": "later").
    /// Concurrency is bounded, calls are paced to each gateway's requests_per_second and back
    /// off when the gateway says rate-limited. Safe to interrupt (Ctrl-C lets charges in flight
    /// finish; even a kill is safe) and to run again: it settles what an earlier run left
    /// unsettled with the stored idempotency keys, so nothing is charged twice.
    BillingRun {
        /// The configuration file.
        #[arg(
            short,
            long,
            default_value = "omnicrm-pay.toml",
            env = "OMNICRM_PAY_CONFIG"
        )]
        config: PathBuf,
        /// Charges in flight at once (default: the sum of the gateways' max_concurrency).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Charge at most this many transactions.
        #[arg(long)]
        limit: Option<usize>,
        /// Do not pay open invoices.
        #[arg(long)]
        no_invoices: bool,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Settle operations whose outcome is unknown (one pass), and print what was done.
    Reconcile {
        /// The configuration file.
        #[arg(
            short,
            long,
            default_value = "omnicrm-pay.toml",
            env = "OMNICRM_PAY_CONFIG"
        )]
        config: PathBuf,
    },
    /// Settle by hand a transaction flagged for an operator, and print it.
    ///
    /// For a charge whose outcome stayed unknown through every repeat the reconciler allows
    /// (`omnicrm-pay reconcile` lists them under awaiting_operator), or one held for review
    /// because the gateway's answer broke the contract; the API shows either's `attention`.
    /// Check the payment at the gateway first, then record what you found. The ledger moves as
    /// it would on a trustworthy answer; who settled it and why are kept. A transaction that is
    /// not flagged is refused.
    Settle {
        /// The configuration file.
        #[arg(
            short,
            long,
            default_value = "omnicrm-pay.toml",
            env = "OMNICRM_PAY_CONFIG"
        )]
        config: PathBuf,
        /// The transaction's id.
        transaction: i64,
        /// What you found at the gateway: succeeded, authorized or failed.
        #[arg(long)]
        outcome: String,
        /// The gateway's payment reference (required unless failed).
        #[arg(long)]
        payment_ref: Option<String>,
        /// Why: what you found at the gateway.
        #[arg(long)]
        reason: String,
        /// Who you are (kept with the transaction).
        #[arg(long, env = "USER")]
        operator: String,
    },
    /// Walk through the whole story end to end and print it.
    ///
    /// Without STRIPE_SECRET_KEY (an sk_test_ key) it starts the Stripe emulator in-process;
    /// with one it uses Stripe's test mode. It loads the Stripe plugin and goes through the
    /// service's own code paths over HTTP: a customer, a card stored as a token, a charge, a
    /// decline, a refund, an invoice paid with the stored card, a dispute (delivered as a signed
    /// webhook) and the financial summary. `--gateway offline` runs the same story through the
    /// offline plugin; `--gateway adyen` runs Adyen's (3-D Secure on the emulator's pages, partial
    /// captures and a refund settled by notifications, a chargeback) on the Adyen emulator.
    Demo {
        /// stripe (default), adyen or offline.
        #[arg(long, default_value = "stripe")]
        gateway: String,
        /// Directory of the built plugins.
        #[arg(long, env = omnicrm_host::built::COMPONENT_DIR_ENV)]
        components: Option<PathBuf>,
        /// Use this configuration file's gateways instead (its first gateway, or the default).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Print the raw JSON of every response too.
        #[arg(long)]
        verbose: bool,
        /// Afterwards, keep the service running with the demo's data (until Ctrl-C) and print
        /// the operator console's address and a sign-in.
        #[arg(long)]
        keep_serving: bool,
    },
    /// Print the argon2 hash of a console user's password, for
    /// `[[service.console.users]] password_hash = ...`.
    HashPassword {
        /// The password (read from stdin when omitted).
        password: Option<String>,
    },
    /// Print the SHA-256 of an API key, for `[[service.api_keys]] sha256 = ...`.
    HashKey {
        /// The key (read from stdin when omitted).
        key: Option<String>,
    },
    /// Generate a new random API key and print it with its SHA-256.
    GenerateKey,
    /// Check a gateway component against the contract (the conformance kit).
    Conformance(omnicrm_conformance::cli::Args),
    /// Check a configuration file and print what it configures (never secret values).
    CheckConfig {
        /// The configuration file.
        #[arg(
            short,
            long,
            default_value = "omnicrm-pay.toml",
            env = "OMNICRM_PAY_CONFIG"
        )]
        config: PathBuf,
    },
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn load_config(path: &std::path::Path) -> Result<ServiceConfig, String> {
    ServiceConfig::load(path).map_err(|e| format!("configuration {}: {e}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Conformance(args) => {
            init_logs("error");
            omnicrm_conformance::cli::run_command(args).await
        }
        Command::Serve { config, listen } => {
            init_logs("info,wasmtime=warn,cranelift=warn");
            let mut config = load_config(&config)?;
            if let Some(l) = listen {
                config.service.listen = l;
            }
            let opts = server::runtime_options(&config).map_err(|e| e.to_string())?;
            let service = server::build_unloaded(&config, opts)
                .await
                .map_err(|e| e.to_string())?;
            let stop = server::shutdown_signal();
            let running = server::start(&config, service, None)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "omnicrm-pay listening on http://{} (OpenAPI: /openapi.json)",
                running.addr
            );
            stop.await;
            tracing::info!("shutting down");
            running.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::BillingRun {
            config,
            concurrency,
            limit,
            no_invoices,
            no_progress,
            json,
        } => {
            init_logs("warn");
            let config = load_config(&config)?;
            let opts = server::runtime_options(&config).map_err(|e| e.to_string())?;
            let concurrency = concurrency.unwrap_or_else(|| {
                config
                    .gateways
                    .values()
                    .map(|g| g.max_concurrency)
                    .sum::<usize>()
                    .max(1)
            });
            let service = server::build(&config, opts)
                .await
                .map_err(|e| e.to_string())?;
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!(
                        "\ninterrupted: letting charges in flight finish (run again to continue)"
                    );
                    flag.store(true, Ordering::SeqCst);
                }
            });
            let summary = billing_run::run(
                service,
                BillingOptions {
                    concurrency,
                    limit,
                    progress: !no_progress && !json,
                    invoices: !no_invoices,
                    lease: Duration::from_secs(config.service.billing_lease_secs),
                },
                stop,
            )
            .await
            .map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).unwrap_or_default()
                );
            } else {
                print!("{}", summary.render());
            }
            Ok(if summary.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Reconcile { config } => {
            init_logs("info,wasmtime=warn,cranelift=warn");
            let config = load_config(&config)?;
            let opts = server::runtime_options(&config).map_err(|e| e.to_string())?;
            let service = server::build(&config, opts)
                .await
                .map_err(|e| e.to_string())?;
            let report = reconcile::reconcile_once(&service, std::time::Duration::ZERO)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Settle {
            config,
            transaction,
            outcome,
            payment_ref,
            reason,
            operator,
        } => {
            init_logs("warn");
            let config = load_config(&config)?;
            let outcome = OperatorOutcome::parse(&outcome)
                .ok_or("--outcome must be succeeded, authorized or failed")?;
            let service = server::build_ledger_only(&config)
                .await
                .map_err(|e| e.to_string())?;
            let txn = service
                .settle_by_operator(
                    transaction,
                    OperatorSettlement {
                        outcome,
                        gateway_payment_ref: payment_ref,
                        operator,
                        reason,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&txn).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            gateway,
            components,
            config,
            verbose,
            keep_serving,
        } => {
            init_logs("warn,wasmtime=error");
            let opts = DemoOptions {
                gateway,
                components,
                config,
                verbose,
                keep_serving,
            };
            demo::run(opts).await.map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::HashKey { key } => {
            let key = match key {
                Some(k) => k,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim().to_string()
                }
            };
            if key.is_empty() {
                return Err("no key given".into());
            }
            println!("{}", hash_api_key(&key));
            Ok(ExitCode::SUCCESS)
        }
        Command::HashPassword { password } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                return Err("no password given".into());
            }
            println!(
                "{}",
                omnicrm_pay::config::console::hash_password(&password).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::GenerateKey => {
            let key = generate_api_key();
            println!("key:    {key}");
            println!("sha256: {}", hash_api_key(&key));
            println!(
                "\nPut the sha256 in the configuration; give the key to the client. It is not shown again."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            let c = load_config(&config)?;
            println!("listen:    {}", c.service.listen);
            println!("database:  {}", c.service.database_shown());
            println!(
                "api keys:  {}",
                c.service
                    .api_keys
                    .iter()
                    .map(|k| format!("{} {:?}", k.name, k.scopes))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("default:   {}", c.default_gateway().unwrap_or("(none)"));
            for (name, g) in &c.gateways {
                println!(
                    "gateway {name}: {} (hosts {:?}, max_concurrency {}, requests_per_second {:?}, secrets {:?})",
                    g.config.component.display(),
                    g.config.allowed_hosts,
                    g.max_concurrency,
                    g.requests_per_second,
                    g.config.secrets.keys().collect::<Vec<_>>()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
