//! The Stripe gateway component (contract 0.2), loaded by the host runtime, against the Stripe
//! emulator over plain HTTP: every scenario of `stripe_scenarios`, those only 0.2 can pass
//! included.

mod stripe_scenarios;

use stripe_scenarios::{Plugin, Setup, Transport};

const SETUP: Setup = Setup {
    plugin: Plugin::Current,
    transport: Transport::Http,
};

stripe_tests!(SETUP);
stripe_v0_2_tests!(SETUP);
