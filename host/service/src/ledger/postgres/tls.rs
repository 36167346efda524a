//! TLS to the PostgreSQL server, with rustls. Whether it is used is the URL's `sslmode`:
//! `disable` (also when the URL does not say), `prefer` (when the server offers it) or `require`.
//! When it is used the server's certificate is always verified, its name and its chain, to the
//! public web's authorities or those of the `database_ca_pem` file: an untrusted server is
//! refused, never talked to in the clear instead.

use std::path::Path;

use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ledger::{LedgerError, Result};

/// The connector of every connection: the authorities of `ca_pem` (a PEM file of one or more
/// certificates) trusted beside the public web's, as the runtime trusts them for plugins.
pub(super) fn connector(ca_pem: Option<&Path>) -> Result<MakeRustlsConnect> {
    let pem = ca_pem
        .map(|path| {
            std::fs::read(path).map_err(|e| {
                LedgerError::Database(format!("reading database_ca_pem {}: {e}", path.display()))
            })
        })
        .transpose()?;
    let name = ca_pem.map(|path| format!("database_ca_pem {}", path.display()));
    let extra_ca = name.as_deref().zip(pem.as_deref());
    let config = omnicrm_host::client_tls_config(extra_ca).map_err(LedgerError::Database)?;
    Ok(MakeRustlsConnect::new(config))
}
