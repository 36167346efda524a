//! The Stripe gateway component, loaded by the host runtime, against the Stripe emulator over
//! plain HTTP: every flow of issue 4's "Done when" (see `stripe_scenarios`).

mod stripe_scenarios;

stripe_tests!(stripe_scenarios::Transport::Http);
