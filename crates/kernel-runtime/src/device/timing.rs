//! Helpers of the bench's timing: the L2 flush of cold samples, by reading
//! (`l2_flush_read`, clean lines left) or by a memset (dirty lines left), and an empty
//! kernel whose timing is the floor of the method (launch and events).

use std::sync::Arc;

use cudarc::driver::{
    CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;

use super::Gpu;
use crate::RuntimeError;

/// How a cold sample's L2 flush evicts what the previous sample left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushMethod {
    /// A kernel reads the flush buffer (ld.global.cg): L2 ends up holding clean lines, as
    /// after Nsight Compute's cache control.
    Read,
    /// `cuMemsetD8` of the flush buffer (NVBench, triton's do_bench): L2 ends up full of
    /// dirty lines that the timed kernel writes back as it evicts them.
    Write,
}

impl std::fmt::Display for FlushMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FlushMethod::Read => "read",
            FlushMethod::Write => "write",
        })
    }
}

/// A flush buffer and, for [`FlushMethod::Read`], the kernel that reads it.
pub struct L2Flush {
    method: FlushMethod,
    buf: CudaSlice<u8>,
    sink: CudaSlice<u8>,
    buf_ptr: u64,
    sink_ptr: u64,
    kernel: Option<(Arc<CudaModule>, CudaFunction)>,
    grid: u32,
}

const BLOCK: u32 = 512;

impl L2Flush {
    /// A flush of `bytes` (rounded up to 16) on `stream`. `read_cubin` holds the entry
    /// `l2_flush_read(const int4*, unsigned long long n, int4* sink)`; it is needed for
    /// [`FlushMethod::Read`] only.
    pub fn new(
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        method: FlushMethod,
        bytes: usize,
        read_cubin: Option<Vec<u8>>,
    ) -> Result<Self, RuntimeError> {
        let drv = |op: &str, e: cudarc::driver::DriverError| RuntimeError::Driver {
            op: op.to_string(),
            detail: e.to_string(),
        };
        let bytes = bytes.div_ceil(16) * 16;
        let buf = stream
            .alloc_zeros::<u8>(bytes)
            .map_err(|e| drv("allocate the L2 flush buffer", e))?;
        let sink = stream
            .alloc_zeros::<u8>(16)
            .map_err(|e| drv("allocate the L2 flush sink", e))?;
        // Addresses taken once, outside any capture (see CublasAttention::new).
        let buf_ptr = cudarc::driver::DevicePtr::device_ptr(&buf, stream).0;
        let sink_ptr = cudarc::driver::DevicePtr::device_ptr(&sink, stream).0;
        let kernel = match (method, read_cubin) {
            (FlushMethod::Write, _) => None,
            (FlushMethod::Read, Some(cubin)) => {
                let module = gpu
                    .ctx
                    .load_module(Ptx::from_binary(cubin))
                    .map_err(|e| drv("load the L2 flush cubin", e))?;
                let f = module
                    .load_function("l2_flush_read")
                    .map_err(|e| drv("find l2_flush_read", e))?;
                Some((module, f))
            }
            (FlushMethod::Read, None) => {
                return Err(RuntimeError::Driver {
                    op: "prepare the L2 flush".into(),
                    detail: "the read flush needs the l2_flush_read cubin".into(),
                })
            }
        };
        Ok(L2Flush {
            method,
            buf,
            sink,
            buf_ptr,
            sink_ptr,
            kernel,
            grid: gpu.info().sm_count.max(1) * 4,
        })
    }

    /// The method.
    pub fn method(&self) -> FlushMethod {
        self.method
    }

    /// Flush buffer bytes.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Enqueues one flush on `stream`.
    pub fn enqueue(&mut self, stream: &Arc<CudaStream>) -> Result<(), RuntimeError> {
        let Some((_, f)) = &self.kernel else {
            return stream
                .memset_zeros(&mut self.buf)
                .map_err(|e| RuntimeError::Driver {
                    op: "flush L2 (memset)".into(),
                    detail: e.to_string(),
                });
        };
        let n = (self.buf.len() / 16) as u64;
        let cfg = LaunchConfig {
            grid_dim: (self.grid, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = stream.launch_builder(f);
        launch.arg(&self.buf_ptr).arg(&n).arg(&self.sink_ptr);
        // SAFETY:
        // 1. l2_flush_read takes (const int4*, unsigned long long, int4*): two device
        //    addresses (u64) and a u64 count, pushed in that order above.
        // 2. `buf_ptr` points at `self.buf`, `n` * 16 bytes long (its length is a multiple
        //    of 16); the kernel reads indices below `n` only. `sink_ptr` points at
        //    `self.sink`, 16 bytes, written at most once (never, for the all-zero buffer).
        // 3. Both allocations live as long as `self`, and the caller synchronises the
        //    stream before dropping it.
        unsafe { launch.launch(cfg) }.map_err(|e| RuntimeError::Driver {
            op: "launch l2_flush_read".into(),
            detail: e.to_string(),
        })?;
        let _ = &self.sink;
        Ok(())
    }
}

/// The `empty` and `spin` kernels of the timing helpers' cubin.
pub struct HelperKernels {
    _module: Arc<CudaModule>,
    empty: CudaFunction,
    spin: CudaFunction,
}

impl HelperKernels {
    /// Loads `empty` and `spin` from `cubin`.
    pub fn new(gpu: &Gpu, cubin: Vec<u8>) -> Result<Self, RuntimeError> {
        let drv = |op: &str, e: cudarc::driver::DriverError| RuntimeError::Driver {
            op: op.to_string(),
            detail: e.to_string(),
        };
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(cubin))
            .map_err(|e| drv("load the timing helpers' cubin", e))?;
        let empty = module
            .load_function("empty")
            .map_err(|e| drv("find the empty kernel", e))?;
        let spin = module
            .load_function("spin")
            .map_err(|e| drv("find the spin kernel", e))?;
        Ok(HelperKernels {
            _module: module,
            empty,
            spin,
        })
    }

    fn one_thread() -> LaunchConfig {
        LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// Enqueues the empty kernel on `stream` (may be captured into a graph).
    pub fn enqueue_empty(&self, stream: &Arc<CudaStream>) -> Result<(), RuntimeError> {
        let mut launch = stream.launch_builder(&self.empty);
        // SAFETY: `empty` takes no parameters and touches no memory.
        unsafe { launch.launch(Self::one_thread()) }.map_err(|e| RuntimeError::Driver {
            op: "launch the empty kernel".into(),
            detail: e.to_string(),
        })?;
        Ok(())
    }

    /// Enqueues a busy-wait of `cycles` SM clocks on `stream` (one thread).
    pub fn enqueue_spin(&self, stream: &Arc<CudaStream>, cycles: i64) -> Result<(), RuntimeError> {
        let mut launch = stream.launch_builder(&self.spin);
        launch.arg(&cycles);
        // SAFETY: `spin` takes one `long long` (i64, pushed above) and touches no memory.
        unsafe { launch.launch(Self::one_thread()) }.map_err(|e| RuntimeError::Driver {
            op: "launch the spin kernel".into(),
            detail: e.to_string(),
        })?;
        Ok(())
    }
}
