//! The frozen contract 0.1 build of the Stripe gateway (`tests/fixtures/components`), loaded by
//! the same host and driven through the same scenarios as `stripe.rs`, in the newest contract's
//! model: the host converts requests and answers (captures and cancels become modifications,
//! `verify-event` a webhook outcome, declines get their category, next actions their new form).

use crate::stripe_scenarios::{Plugin, Setup, Transport};

const SETUP: Setup = Setup {
    plugin: Plugin::V0_1,
    transport: Transport::Http,
};

crate::stripe_tests!(SETUP);
