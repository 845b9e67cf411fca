//! Per-instance resource limits: memory (through a store limiter), CPU
//! time per call (through epoch deadlines), optional fuel per call,
//! wall-clock time per call, open handles (the resource table's capacity)
//! and the size of what one call returns (bounded lifting, see
//! `lift`). Traps caused by a limit carry a [`LimitHit`] so the
//! error can say which limit, not just "trap".

use std::time::Duration;

use crate::error::TrapReason;

/// Limits applied to every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Maximum time one call may run in the guest before it is stopped.
    pub cpu_per_call: Duration,
    /// Maximum number of table elements (function references) per table.
    pub table_elements: usize,
    /// Maximum wall-clock time of one call, waiting on I/O included: a
    /// guest blocked forever in a read is stopped too.
    pub wall_clock_per_call: Duration,
    /// Most handles (files, sockets, streams, guest resources the host
    /// holds) one instance may have open at once.
    pub handles: usize,
    /// Most bytes the results of one call may lift into the host: the cap
    /// on one returned batch, plan or list of committables.
    pub result_bytes: usize,
    /// Fuel per call (about one unit per WebAssembly instruction), for
    /// deterministic budgets that do not depend on the machine's speed;
    /// `None` (the default) leaves only the CPU-time budget.
    pub fuel_per_call: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A format or connector needs a few MiB; 64 MiB leaves room for
            // large batches while keeping 100 instances under 7 GiB.
            memory_bytes: 64 * 1024 * 1024,
            // Seconds, not milliseconds: a decode of a 64 KiB batch takes
            // well under a millisecond, but a cold guest may initialise.
            cpu_per_call: Duration::from_secs(5),
            table_elements: 100_000,
            // Generous: connectors return to the host while waiting (the
            // socket source every 200 ms); only a stuck guest gets here.
            wall_clock_per_call: Duration::from_secs(60),
            // A socket connector holds ~6 (network, socket, two streams,
            // pollables); a file source one descriptor per open file.
            handles: 1024,
            // As large as the default memory: a legitimate result fits in
            // the guest's memory, only aliasing lists can exceed it.
            result_bytes: 64 * 1024 * 1024,
            fuel_per_call: None,
        }
    }
}

/// Which limit stopped an instance, recorded by the limiter or the epoch
/// callback before they fail the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// Memory growth refused.
    Memory,
    /// The call ran out of CPU time.
    Cpu,
    /// The call took longer than the wall-clock limit.
    WallClock,
    /// The call ran out of fuel.
    Fuel,
    /// The instance opened more handles than allowed.
    Handles,
    /// The call returned more than the result cap.
    ResultSize,
}

/// The store's resource limiter: refuses growth past the limits and
/// remembers that it did.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    /// Set when a limit was hit during the current call.
    pub hit: Option<LimitHit>,
}

impl Limiter {
    /// The limits enforced.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A limiter enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Limiter { limits, hit: None }
    }

    /// The trap reason for a limit hit.
    pub fn reason(&self, hit: LimitHit) -> TrapReason {
        match hit {
            LimitHit::Memory => TrapReason::MemoryLimit { limit: self.limits.memory_bytes },
            LimitHit::Cpu => TrapReason::CpuLimit { budget: self.limits.cpu_per_call },
            LimitHit::WallClock => TrapReason::WallClockLimit { limit: self.limits.wall_clock_per_call },
            LimitHit::Fuel => TrapReason::FuelLimit { fuel: self.limits.fuel_per_call.unwrap_or(0) },
            LimitHit::Handles => TrapReason::HandleLimit { limit: self.limits.handles },
            LimitHit::ResultSize => TrapReason::ResultLimit { limit: self.limits.result_bytes },
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            self.hit = Some(LimitHit::Memory);
            // Failing (rather than returning false) stops the guest at once:
            // a Rust guest would abort on a failed allocation anyway.
            return Err(wasmtime::format_err!("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.limits.table_elements)
    }
}
