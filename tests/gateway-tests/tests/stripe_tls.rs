//! The same flows as `stripe.rs`, with the emulator reached over TLS through the host's pooled
//! outbound client, which trusts the emulator's CA (`RuntimeOptions::extra_ca_pem`).

use crate::stripe_scenarios::{Plugin, Setup, Transport};

const SETUP: Setup = Setup {
    plugin: Plugin::Current,
    transport: Transport::Tls,
};

crate::stripe_tests!(SETUP);
crate::stripe_v0_2_tests!(SETUP);
