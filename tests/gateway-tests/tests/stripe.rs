//! The Stripe gateway component (contract 0.2), loaded by the host runtime, against the Stripe
//! emulator over plain HTTP: every scenario of `stripe_scenarios`, those only 0.2 can pass
//! included.

use crate::stripe_scenarios::{Plugin, Setup, Transport};

const SETUP: Setup = Setup {
    plugin: Plugin::Current,
    transport: Transport::Http,
};

crate::stripe_tests!(SETUP);
crate::stripe_v0_2_tests!(SETUP);
