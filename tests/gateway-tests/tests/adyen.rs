//! The Adyen gateway component (contract 0.2), loaded by the host runtime with Adyen's header
//! auth, against the Adyen emulator over plain HTTP: every scenario of `adyen_scenarios`.

use crate::adyen_scenarios::Transport;

crate::adyen_tests!(Transport::Http);
