//! The same scenarios as `adyen.rs`, with the emulator reached over TLS through the host's pooled
//! outbound client, which trusts the emulator's CA (`RuntimeOptions::extra_ca_pem`).

use crate::adyen_scenarios::Transport;

crate::adyen_tests!(Transport::Tls);
