use std::path::PathBuf;

/// Errors from toolchain discovery, kernel builds and GPU access.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A CUDA tool was not found anywhere discovery looks.
    #[error(
        "{tool} not found (looked in: {searched}); install the pinned toolchain with `{install}`"
    )]
    ToolMissing {
        /// The tool (`nvcc`).
        tool: String,
        /// Where discovery looked, in order.
        searched: String,
        /// The command that installs it.
        install: &'static str,
    },
    /// nvcc rejected a kernel source: its own diagnostics are kept.
    #[error("nvcc failed to compile kernel `{kernel}` for {arch} (exit {status}):\n  command: {command}\n{stderr}")]
    CompileFailed {
        /// Kernel name.
        kernel: String,
        /// Target arch.
        arch: String,
        /// Full command line.
        command: String,
        /// Exit status.
        status: String,
        /// nvcc's stderr.
        stderr: String,
    },
    /// An external tool could not be started or failed unexpectedly.
    #[error("{command}: {detail}")]
    ToolFailed {
        /// Full command line.
        command: String,
        /// What happened, with the tool's own stderr.
        detail: String,
    },
    /// No usable CUDA driver on this machine.
    #[error("no CUDA driver: {0}")]
    NoDriver(String),
    /// A driver, but no GPU it can use.
    #[error("no GPU: {0}")]
    NoGpu(String),
    /// The GPU's arch is older than the kernel supports or no cubin was built for it.
    #[error("kernel `{kernel}`: {detail}")]
    Unsupported {
        /// Kernel name.
        kernel: String,
        /// Why.
        detail: String,
    },
    /// A CUDA driver call about a specific kernel failed (load, launch, execution).
    #[error("kernel `{kernel}`, config `{config}`: {op} failed: {detail}")]
    KernelFailed {
        /// Kernel name.
        kernel: String,
        /// Config name.
        config: String,
        /// What was being done (`launch`, `synchronize after launch`, ...).
        op: String,
        /// The driver's error.
        detail: String,
    },
    /// The GPU has less free memory than a run needs (another process may hold it).
    #[error("not enough GPU memory for {purpose}: {detail} (another process may be holding it)")]
    OutOfDeviceMemory {
        /// What the memory is for (`config canon_4: Q, K, V, O with guard bands`).
        purpose: String,
        /// How much was needed and how much was free, or the driver's error.
        detail: String,
    },
    /// Any other driver call (allocation, copy, context) failed.
    #[error("CUDA driver: {op} failed: {detail}")]
    Driver {
        /// The operation.
        op: String,
        /// The driver's error.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl RuntimeError {
    /// The DESIGN.md exit code for this error: 2 for bad input (a kernel that does not
    /// compile), 1 for a kernel that fails on the GPU, 3 when something is missing here.
    pub fn exit_code(&self) -> u8 {
        match self {
            RuntimeError::CompileFailed { .. } => 2,
            RuntimeError::KernelFailed { .. } => 1,
            RuntimeError::ToolMissing { .. }
            | RuntimeError::ToolFailed { .. }
            | RuntimeError::NoDriver(_)
            | RuntimeError::NoGpu(_)
            | RuntimeError::Unsupported { .. }
            | RuntimeError::Driver { .. }
            | RuntimeError::OutOfDeviceMemory { .. }
            | RuntimeError::Io { .. } => 3,
        }
    }
}
