//! Plumbing shared by the gateway API emulators (`stripe-emulator`, `adyen-emulator`): a Tokio
//! runtime of their own that stops everything when dropped, listeners serving HTTP/1.1 and h2
//! (plain or TLS with a certificate from a CA generated at start) started together by
//! [`listen()`], fault injection, and a clock tests can move. Each emulator keeps its own wire protocol, state and error bodies.

#![warn(missing_docs)]

mod clock;
pub mod faults;
pub mod listen;
mod runtime;
pub mod server;
pub mod tls;

pub use clock::Clock;
pub use faults::{Decision, FailRule, Faults};
pub use listen::{Endpoints, ListenError, ListenOptions, listen};
pub use runtime::OwnRuntime;
pub use server::{ConnectionDropped, accept_loop, bind};
pub use tls::{TlsError, TlsSetup};
