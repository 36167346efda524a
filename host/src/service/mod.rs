//! The omnicrm-pay service: ledger, HTTP API, billing runs and the demo.
//!
//! One module per job: [`config`] (the TOML file), [`ledger`] (the storage seam and its SQLite
//! implementation), [`currency`] (ISO 4217), [`time`] (calendar arithmetic).

pub mod currency;
pub mod ledger;
pub mod time;
