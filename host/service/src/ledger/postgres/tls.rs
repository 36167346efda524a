//! TLS to the PostgreSQL server, with rustls. Whether it is used is the URL's `sslmode`:
//! `disable` (also when the URL does not say), `prefer` (when the server offers it) or `require`.
//! When it is used the server's certificate is always verified, its name and its chain, to the
//! public web's authorities or those of the `database_ca_pem` file: an untrusted server is
//! refused, never talked to in the clear instead.

use std::path::Path;

use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ledger::{LedgerError, Result};

/// The connector of every connection: the authorities of `ca_pem` (a PEM file of one or more
/// certificates) trusted beside the public web's.
pub(super) fn connector(ca_pem: Option<&Path>) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_pem {
        let shown = path.display();
        let pem = std::fs::read(path)
            .map_err(|e| LedgerError::Database(format!("reading database_ca_pem {shown}: {e}")))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| {
                LedgerError::Database(format!("database_ca_pem {shown}: invalid PEM: {e}"))
            })?;
            roots.add(cert).map_err(|e| {
                LedgerError::Database(format!("database_ca_pem {shown}: invalid certificate: {e}"))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(LedgerError::Database(format!(
                "database_ca_pem {shown}: no certificate in it"
            )));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LedgerError::Database(format!("TLS to PostgreSQL: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
