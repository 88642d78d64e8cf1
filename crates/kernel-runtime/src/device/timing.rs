//! Helpers of the bench's timing, from one cubin (`timing_helpers.cu`): the L2 flush of cold
//! samples, by reading (`l2_flush_read`, clean lines left) or by a memset (dirty lines left);
//! a spin kernel that holds the GPU while the host enqueues a sample; and an empty kernel
//! whose timing is the floor of the method (launch and events).

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;

use super::{drv, Gpu};
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

/// The kernels of the timing helpers' cubin.
pub struct HelperKernels {
    l2_flush_read: CudaFunction,
    empty: CudaFunction,
    spin: CudaFunction,
}

fn one_thread() -> LaunchConfig {
    LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (1, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl HelperKernels {
    /// Loads `l2_flush_read`, `empty` and `spin` from `cubin`.
    pub fn new(gpu: &Gpu, cubin: Vec<u8>) -> Result<Self, RuntimeError> {
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(cubin))
            .map_err(drv("load the timing helpers' cubin"))?;
        let function = |name: &str| {
            module
                .load_function(name)
                .map_err(drv(&format!("find `{name}` in the timing helpers' cubin")))
        };
        Ok(HelperKernels {
            l2_flush_read: function("l2_flush_read")?,
            empty: function("empty")?,
            spin: function("spin")?,
        })
    }

    /// Enqueues the empty kernel on `stream` (may be captured into a graph).
    pub fn enqueue_empty(&self, stream: &Arc<CudaStream>) -> Result<(), RuntimeError> {
        let mut launch = stream.launch_builder(&self.empty);
        // SAFETY: `empty` takes no parameters and touches no memory.
        unsafe { launch.launch(one_thread()) }.map_err(drv("launch the empty kernel"))?;
        Ok(())
    }

    /// Enqueues a busy-wait of `cycles` SM clocks on `stream` (one thread).
    pub fn enqueue_spin(&self, stream: &Arc<CudaStream>, cycles: i64) -> Result<(), RuntimeError> {
        let mut launch = stream.launch_builder(&self.spin);
        launch.arg(&cycles);
        // SAFETY: `spin` takes one `long long` (i64, pushed above) and touches no memory.
        unsafe { launch.launch(one_thread()) }.map_err(drv("launch the spin kernel"))?;
        Ok(())
    }
}

/// A flush buffer and, for [`FlushMethod::Read`], the kernel that reads it.
pub struct L2Flush {
    method: FlushMethod,
    buf: CudaSlice<u8>,
    sink: CudaSlice<u8>,
    buf_ptr: u64,
    sink_ptr: u64,
    read: CudaFunction,
    grid: u32,
}

const BLOCK: u32 = 512;

impl L2Flush {
    /// A flush of `bytes` (rounded up to 16) on `stream`, reading with `helpers`'
    /// `l2_flush_read(const int4*, unsigned long long n, int4* sink)` for
    /// [`FlushMethod::Read`].
    pub fn new(
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        method: FlushMethod,
        bytes: usize,
        helpers: &HelperKernels,
    ) -> Result<Self, RuntimeError> {
        let bytes = bytes.div_ceil(16) * 16;
        let buf = stream
            .alloc_zeros::<u8>(bytes)
            .map_err(drv("allocate the L2 flush buffer"))?;
        let sink = stream
            .alloc_zeros::<u8>(16)
            .map_err(drv("allocate the L2 flush sink"))?;
        // Addresses taken once, outside any capture (see CublasAttention::new).
        let buf_ptr = cudarc::driver::DevicePtr::device_ptr(&buf, stream).0;
        let sink_ptr = cudarc::driver::DevicePtr::device_ptr(&sink, stream).0;
        Ok(L2Flush {
            method,
            buf,
            sink,
            buf_ptr,
            sink_ptr,
            read: helpers.l2_flush_read.clone(),
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
        if self.method == FlushMethod::Write {
            return stream
                .memset_zeros(&mut self.buf)
                .map_err(drv("flush L2 (memset)"));
        }
        let n = (self.buf.len() / 16) as u64;
        let cfg = LaunchConfig {
            grid_dim: (self.grid, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = stream.launch_builder(&self.read);
        launch.arg(&self.buf_ptr).arg(&n).arg(&self.sink_ptr);
        // SAFETY:
        // 1. l2_flush_read takes (const int4*, unsigned long long, int4*): two device
        //    addresses (u64) and a u64 count, pushed in that order above.
        // 2. `buf_ptr` points at `self.buf`, `n` * 16 bytes long (its length is a multiple
        //    of 16); the kernel reads indices below `n` only. `sink_ptr` points at
        //    `self.sink`, 16 bytes, written at most once (never, for the all-zero buffer).
        // 3. Both allocations live as long as `self`, and the caller synchronises the
        //    stream before dropping it.
        unsafe { launch.launch(cfg) }.map_err(drv("launch l2_flush_read"))?;
        let _ = &self.sink;
        Ok(())
    }
}
