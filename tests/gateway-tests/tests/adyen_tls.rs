//! The same scenarios as `adyen.rs`, with the emulator reached over TLS through the host's pooled
//! outbound client, which trusts the emulator's CA (`RuntimeOptions::extra_ca_pem`).

mod adyen_scenarios;

use adyen_scenarios::Transport;

adyen_tests!(Transport::Tls);
