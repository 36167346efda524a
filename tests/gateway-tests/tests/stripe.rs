//! The Stripe gateway component, loaded by the host runtime, against the Stripe emulator over
//! plain HTTP: every scenario of `stripe_scenarios`.

mod stripe_scenarios;

stripe_tests!(stripe_scenarios::Transport::Http);
