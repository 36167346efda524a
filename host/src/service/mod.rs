//! The omnicrm-pay service: ledger, HTTP API, billing runs and the demo.
