//! Standard streams: stdout discarded and stderr captured (for the panic
//! message of an error) unless the terminal's is granted; stdin closed.

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// How much of a guest's stderr the host keeps for error messages.
pub const STDERR_CAPTURE_BYTES: usize = 64 * 1024;

/// Wires stdout and stderr; returns the pipe a captured stderr goes to.
pub(super) fn configure(builder: &mut WasiCtxBuilder, stdout: bool, stderr: bool) -> MemoryOutputPipe {
    let captured = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
    if stderr {
        builder.inherit_stderr();
    } else {
        builder.stderr(captured.clone());
    }
    if stdout {
        builder.inherit_stdout();
    }
    captured
}
