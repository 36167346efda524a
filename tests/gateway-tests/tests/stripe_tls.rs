//! The same flows as `stripe.rs`, with the emulator reached over TLS through the host's pooled
//! outbound client, which trusts the emulator's CA (`RuntimeOptions::extra_ca_pem`).

mod stripe_scenarios;

use stripe_scenarios::{Plugin, Setup, Transport};

const SETUP: Setup = Setup {
    plugin: Plugin::Current,
    transport: Transport::Tls,
};

stripe_tests!(SETUP);
stripe_v0_2_tests!(SETUP);
