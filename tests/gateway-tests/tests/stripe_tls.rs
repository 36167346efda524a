//! The same flows as `stripe.rs`, with the emulator reached over TLS through the host's pooled
//! outbound client, which trusts the emulator's CA (`RuntimeOptions::extra_ca_pem`).

mod stripe_scenarios;

stripe_tests!(stripe_scenarios::Transport::Tls);
