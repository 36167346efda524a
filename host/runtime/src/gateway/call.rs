//! The per-call machinery of a gateway: a free instance slot, a fresh store (memory limit,
//! host buffer budget, deadline, epoch interruption), a fresh instance from the gateway's
//! `InstancePre`, and the outcome turned into a [`CallError`] and logged. Every call of every
//! gateway goes through [`run_call!`].

use super::dispatch::{ContractExports, Failure};
use crate::config::Limits;
use crate::contract::GatewayInfo;
use crate::diagnostics::Diagnostics;
use crate::error::{CallError, PluginTrap};
use crate::imports::{GatewayShared, HostClock, HostState};
use crate::outbound::OutboundHooks;
use crate::text::{escape_controls, last_chars, truncate};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// Longest trap message kept in a [`CallError::Trap`].
const MAX_TRAP_MESSAGE: usize = 2048;

/// What the calls of every gateway of one runtime share: the engine, the guests' clock and the
/// instance slots.
#[derive(Clone)]
pub(crate) struct Sandbox {
    engine: Engine,
    clock: HostClock,
    /// One permit per instance slot of the pooling allocator: calls beyond it wait (within
    /// their deadline) instead of failing.
    instance_permits: Arc<Semaphore>,
}

impl Sandbox {
    /// The sandbox of a runtime whose pooling allocator has `max_instances` slots.
    pub(crate) fn new(engine: Engine, clock: HostClock, max_instances: u32) -> Self {
        Sandbox {
            engine,
            clock,
            instance_permits: Arc::new(Semaphore::new(max_instances.max(1) as usize)),
        }
    }
}

/// Runs the calls of one gateway, each in a fresh store and instance, under its deadline.
pub(crate) struct CallRunner {
    sandbox: Sandbox,
    pre: InstancePre<HostState>,
    exports: ContractExports,
    shared: Arc<GatewayShared>,
    hooks: OutboundHooks,
    limits: Limits,
}

/// One call in progress: its slot, its store and what it leaves behind.
pub(super) struct Call {
    started: Instant,
    pub(super) deadline: Instant,
    permit: OwnedSemaphorePermit,
    pub(super) store: Store<HostState>,
    pub(super) diagnostics: Arc<Diagnostics>,
}

/// Runs one guest call of `$runner` (a `&CallRunner`) named `$op`: `$call` is a call of
/// [`ContractExports`] (a future of `Result<T, Failure>`) given the loaded exports, the
/// `&mut Store` and the new `&Instance`.
macro_rules! run_call {
    ($runner:expr, $op:literal, |$exports:ident, $store:ident, $instance:ident| $call:expr) => {{
        let runner: &$crate::gateway::call::CallRunner = $runner;
        // Waits (within the deadline) for a free instance slot of the pooling allocator.
        match runner.start().await {
            Err(e) => Err(e),
            Ok(mut call) => {
                let stop = call.diagnostics.clone();
                let work = async {
                    let $instance = &runner.instantiate(&mut call.store).await?;
                    let $exports = runner.exports();
                    let $store = &mut call.store;
                    $call.await
                };
                // The host may stop the call before its deadline, wherever the plugin is.
                let work = async {
                    tokio::select! {
                        biased;
                        outcome = work => outcome,
                        () = stop.stopped() => Err($crate::gateway::dispatch::Failure::Stopped),
                    }
                };
                let outcome = tokio::time::timeout_at(call.deadline.into(), work).await;
                runner.finish(call, $op, outcome)
            }
        }
    }};
}
pub(super) use run_call;

impl CallRunner {
    /// The runner of one gateway: `pre` instantiates its component, `exports` are its export
    /// indices, `hooks` its outbound HTTP.
    pub(crate) fn new(
        sandbox: Sandbox,
        pre: InstancePre<HostState>,
        exports: ContractExports,
        shared: Arc<GatewayShared>,
        hooks: OutboundHooks,
        limits: Limits,
    ) -> Self {
        CallRunner {
            sandbox,
            pre,
            exports,
            shared,
            hooks,
            limits,
        }
    }

    /// Calls `info.describe`, as loading does. It loads the whole world, so every export's type
    /// is checked once, here; the calls after it load only their interface.
    pub(crate) async fn describe(&self) -> Result<GatewayInfo, CallError> {
        let info = run_call!(self, "info.describe", |exports, store, instance| exports
            .describe(store, instance))?;
        super::checks::gateway_info(&info)?;
        Ok(info)
    }

    /// The name the gateway was loaded under.
    pub(super) fn name(&self) -> &str {
        self.shared.name()
    }

    /// The per-call limits.
    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// What the gateway's calls share (its name, settings, log limits and counts).
    pub(super) fn shared(&self) -> &GatewayShared {
        &self.shared
    }

    /// The component's export indices.
    pub(super) fn exports(&self) -> &ContractExports {
        &self.exports
    }

    /// Starts a call: waits for an instance slot (within the deadline), then makes its store.
    pub(super) async fn start(&self) -> Result<Call, CallError> {
        let started = Instant::now();
        let deadline = started + self.limits.call_timeout();
        let permit = self.acquire_slot(deadline).await?;
        let (store, diagnostics) = self.new_store(deadline);
        Ok(Call {
            started,
            deadline,
            permit,
            store,
            diagnostics,
        })
    }

    /// A fresh instance of the component in `store`.
    pub(super) async fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> Result<Instance, Failure> {
        self.pre
            .instantiate_async(store)
            .await
            .map_err(Failure::Instantiate)
    }

    async fn acquire_slot(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, CallError> {
        let permits = self.sandbox.instance_permits.clone();
        match tokio::time::timeout_at(deadline.into(), permits.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(CallError::Host("the runtime is shutting down".into())),
            // The plugin did not run: not a timeout of the operation.
            Err(_) => Err(CallError::Host(
                "no instance slot became free before the call's deadline (max_instances reached)"
                    .into(),
            )),
        }
    }

    fn new_store(&self, deadline: Instant) -> (Store<HostState>, Arc<Diagnostics>) {
        let diagnostics = Diagnostics::new(
            self.limits.host_buffer_bytes(),
            self.limits.log_bytes_per_call as usize,
        );
        let state = HostState::new(
            &self.shared,
            self.hooks.for_call(diagnostics.clone()),
            self.sandbox.clock,
            deadline,
            self.limits.memory_bytes(),
            diagnostics.clone(),
        );
        let mut store = Store::new(&self.sandbox.engine, state);
        store.limiter(|s| s.limiter());
        // Every epoch tick, a guest in pure computation yields to the executor so the call's
        // timeout can fire; past the deadline it is interrupted (a backstop for executors
        // that stop polling). A call over its host buffer budget is stopped at the next tick.
        store.set_epoch_deadline(1);
        let over_budget = diagnostics.clone();
        store.epoch_deadline_callback(move |_| {
            if over_budget.host_buffers_exceeded() {
                Err(wasmtime::Error::msg("the host buffer budget is exceeded"))
            } else if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        (store, diagnostics)
    }

    /// Ends a call: the instance and its slot go with the store, then the permit; the outcome
    /// becomes the call's result, and is logged. A call the host had to stop (a response
    /// reflected a credential, the host buffer budget went over) fails even if the plugin
    /// returned normally.
    pub(super) fn finish<T>(
        &self,
        call: Call,
        op: &'static str,
        outcome: Result<Result<T, Failure>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let Call {
            started,
            permit,
            store,
            diagnostics,
            ..
        } = call;
        drop(store);
        drop(permit);
        let gateway = self.name();
        let timeout = self.limits.call_timeout();
        let result = if let Some(url) = diagnostics.credential_reflected() {
            Err(CallError::Trap(PluginTrap::new(&format!(
                "the response of {url} contained a credential the host added to the request; it was withheld from the plugin and the call failed"
            ))))
        } else {
            match outcome {
                Ok(Ok(_) | Err(Failure::Stopped)) if diagnostics.host_buffers_exceeded() => {
                    Err(CallError::Trap(PluginTrap::new(
                        &self.over_budget(&diagnostics, "the call was stopped"),
                    )))
                }
                Ok(Err(Failure::Stopped)) => Err(CallError::Host(
                    "the host stopped the call for no recorded reason".into(),
                )),
                Ok(Ok(value)) => Ok(value),
                Err(_elapsed) => Err(CallError::Timeout { after: timeout }),
                Ok(Err(Failure::Instantiate(e))) => Err(self.instantiate_error(e, &diagnostics)),
                Ok(Err(Failure::Guest(e))) => Err(self.trap_error(e, &diagnostics, timeout)),
            }
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(gateway, op, elapsed_ms, "gateway call"),
            Err(CallError::Trap(trap)) => tracing::warn!(
                gateway,
                op,
                elapsed_ms,
                reference = trap.reference(),
                detail = trap.detail(),
                "gateway call failed: the plugin failed unexpectedly"
            ),
            Err(e) => tracing::warn!(gateway, op, elapsed_ms, error = %e, "gateway call failed"),
        }
        let (lines, bytes) = diagnostics.log_dropped();
        if lines > 0 {
            tracing::warn!(
                gateway,
                op,
                lines,
                bytes,
                "dropped plugin log output over the gateway's limits (limits.log_bytes_per_call, limits.log_bytes_per_second)"
            );
        }
        result
    }

    /// A call whose instance could not be made: past its deadline (a start function that
    /// does not end) is a timeout like any other; the plugin's start function trapping is a
    /// trap (its text kept for the operator); an initial memory over the limit, or the runtime
    /// refusing, is the host's.
    fn instantiate_error(&self, e: wasmtime::Error, diagnostics: &Diagnostics) -> CallError {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout {
                after: self.limits.call_timeout(),
            };
        }
        if e.downcast_ref::<Trap>().is_some() || diagnostics.host_buffers_exhausted() {
            return self.trap_error(e, diagnostics, self.limits.call_timeout());
        }
        let detail = format!("{e:#}");
        let detail = escape_controls(truncate(&detail, MAX_TRAP_MESSAGE));
        CallError::Host(if diagnostics.memory_limit_hit() {
            format!(
                "cannot instantiate the plugin: its initial memory exceeds its memory limit of {} MiB ({detail})",
                self.limits.memory_mib
            )
        } else {
            format!("cannot instantiate the plugin: {detail}")
        })
    }

    /// Why the host buffer budget explains a failure.
    fn over_budget(&self, diagnostics: &Diagnostics, what: &str) -> String {
        format!(
            "the plugin exceeded its host buffer budget of {} MiB (limits.host_buffer_mib; {} bytes in use): {what}",
            self.limits.host_buffer_mib,
            diagnostics.host_buffers_in_use()
        )
    }

    fn trap_error(
        &self,
        e: wasmtime::Error,
        diagnostics: &Diagnostics,
        timeout: Duration,
    ) -> CallError {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout { after: timeout };
        }
        let detail = format!("{e:#}");
        let stderr = diagnostics.stderr_tail();
        let mut message = if diagnostics.memory_limit_hit() {
            format!(
                "the plugin exceeded its memory limit of {} MiB ({detail})",
                self.limits.memory_mib
            )
        } else if diagnostics.host_buffers_exhausted() {
            self.over_budget(diagnostics, &detail)
        } else {
            detail
        };
        if !stderr.is_empty() {
            let tail = last_chars(&stderr, 512);
            message = format!("{message}; plugin stderr: {tail}");
        }
        CallError::Trap(PluginTrap::new(truncate(&message, MAX_TRAP_MESSAGE)))
    }
}
