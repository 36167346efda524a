//! The Tokio runtime an emulator serves from: its own, so a test that blocks its runtime's threads
//! can't starve the emulator, and dropped without blocking, so dropping an emulator inside a test's
//! runtime is allowed.

/// A multi-threaded Tokio runtime that shuts down in the background when dropped, ending every
/// task spawned on it (listeners, connections, deliveries).
#[derive(Debug)]
pub struct OwnRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl OwnRuntime {
    /// Starts a runtime with `worker_threads` workers (at least one) named `thread_name`.
    pub fn new(worker_threads: usize, thread_name: &str) -> std::io::Result<OwnRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name(thread_name)
            .enable_all()
            .build()?;
        Ok(OwnRuntime {
            runtime: Some(runtime),
        })
    }

    /// The runtime's handle, to spawn tasks or enter it (binding listeners needs it entered).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime is only taken in drop"),
        }
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        // Dropping a runtime may block, which is not allowed inside the caller's runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
