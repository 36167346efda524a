//! The Adyen gateway component (contract 0.2), loaded by the host runtime with Adyen's header
//! auth, against the Adyen emulator over plain HTTP: every scenario of `adyen_scenarios`.

mod adyen_scenarios;

use adyen_scenarios::Transport;

adyen_tests!(Transport::Http);
