//! Helpers of the bench's timing, from one cubin (`timing_helpers.cu`): the L2 flush of cold
//! samples, by reading (`l2_flush_read`, clean lines left) or by a memset (dirty lines left);
//! a spin kernel that holds the GPU while the host enqueues a sample; and an empty kernel
//! whose timing is the floor of the method (launch and events). Optionally, cold samples also
//! evict the SMs' instruction caches ([`CodeFlush`], from the PTX of [`code_flush_ptx`]).

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

/// The entry of [`code_flush_ptx`]'s kernel.
pub const CODE_FLUSH_ENTRY: &str = "code_flush";
/// Straight-line instructions of the code flush: 64 Ki, 1 MiB of SASS (16 bytes each), well
/// above what an SM's instruction caches hold.
pub const CODE_FLUSH_INSTRUCTIONS: usize = 1 << 16;
/// Threads per block of the code flush: one warp per SM sub-partition (each has its own L0
/// instruction cache).
pub const CODE_FLUSH_THREADS: u32 = 128;

/// PTX (ISA 7.0, sm_70: any later arch compiles it) of `code_flush(unsigned* sink)`:
/// `instructions` straight-line integer instructions, alternately adding and XOR-ing a
/// distinct immediate into one register, so that ptxas can merge none of them (measured:
/// 64 Ki PTX instructions give 65 560 SASS instructions at sm_90a, -O3). A block that runs it
/// fetches `instructions` x 16 bytes of code once, evicting what the SM's instruction caches
/// held: the kernel timed next fetches its code anew (from L2 or DRAM), as after Nsight
/// Compute's cache control. `sink` is written only if the register ends at one value that
/// it never reaches for thread indices below 2^32 (never, in practice), so nothing is
/// removed as dead.
pub fn code_flush_ptx(instructions: usize) -> String {
    let mut s = String::with_capacity(instructions * 32 + 512);
    s.push_str(".version 7.0\n.target sm_70\n.address_size 64\n\n");
    s.push_str(&format!(
        ".visible .entry {CODE_FLUSH_ENTRY}(.param .u64 sink)\n{{\n"
    ));
    s.push_str("\t.reg .b32 %r<1>;\n\t.reg .b64 %rd<2>;\n\t.reg .pred %p<1>;\n");
    s.push_str("\tmov.u32 %r0, %tid.x;\n");
    for i in 0..instructions as u64 {
        // Knuth's multiplicative hash: distinct, well-spread immediates.
        let imm = (i.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995) & 0xffff_ffff;
        let op = if i % 2 == 0 { "add.u32" } else { "xor.b32" };
        s.push_str(&format!("\t{op} %r0, %r0, {imm};\n"));
    }
    s.push_str("\tsetp.ne.u32 %p0, %r0, 2654435769;\n\t@%p0 bra DONE;\n");
    s.push_str("\tld.param.u64 %rd0, [sink];\n\tcvta.to.global.u64 %rd1, %rd0;\n");
    s.push_str("\tst.global.u32 [%rd1], %r0;\nDONE:\n\tret;\n}\n");
    s
}

/// Four blocks for each of `sm_count` SMs: the grid of the flush kernels.
fn four_blocks_per_sm(sm_count: u32) -> u32 {
    sm_count.max(1) * 4
}

/// The code flush of cold samples: [`code_flush_ptx`]'s kernel, four blocks per SM.
pub struct CodeFlush {
    function: CudaFunction,
    sink: CudaSlice<u8>,
    sink_ptr: u64,
    grid: u32,
    instructions: usize,
}

impl CodeFlush {
    /// Loads `code_flush` from `cubin` (built from [`code_flush_ptx`]`(instructions)`).
    pub fn new(
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        cubin: Vec<u8>,
        instructions: usize,
    ) -> Result<Self, RuntimeError> {
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(cubin))
            .map_err(drv("load the code flush's cubin"))?;
        let function = module
            .load_function(CODE_FLUSH_ENTRY)
            .map_err(drv("find `code_flush` in its cubin"))?;
        let sink = stream
            .alloc_zeros::<u8>(16)
            .map_err(drv("allocate the code flush's sink"))?;
        let sink_ptr = cudarc::driver::DevicePtr::device_ptr(&sink, stream).0;
        Ok(CodeFlush {
            function,
            sink,
            sink_ptr,
            grid: Self::grid(gpu.info().sm_count),
            instructions,
        })
    }

    /// Blocks per launch for `sm_count` SMs (four per SM, as the L2 flush's read), so that
    /// every SM gets at least one whichever way the block scheduler spreads them.
    pub fn grid(sm_count: u32) -> u32 {
        four_blocks_per_sm(sm_count)
    }

    /// Bytes of code a block runs through (16 per instruction).
    pub fn code_bytes(&self) -> u64 {
        self.instructions as u64 * 16
    }

    /// Enqueues one code flush on `stream`.
    pub fn enqueue(&self, stream: &Arc<CudaStream>) -> Result<(), RuntimeError> {
        let cfg = LaunchConfig {
            grid_dim: (self.grid, 1, 1),
            block_dim: (CODE_FLUSH_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = stream.launch_builder(&self.function);
        launch.arg(&self.sink_ptr);
        // SAFETY:
        // 1. code_flush takes one `.u64` parameter (a global address), pushed above.
        // 2. `sink_ptr` points at `self.sink`, 16 bytes; the kernel writes at most one u32
        //    at its start (and in practice never).
        // 3. The allocation lives as long as `self`, and the caller synchronises the stream
        //    before dropping it.
        unsafe { launch.launch(cfg) }.map_err(drv("launch the code flush"))?;
        let _ = &self.sink;
        Ok(())
    }
}

/// A flush buffer and, for [`FlushMethod::Read`], the kernel that reads it; optionally a
/// [`CodeFlush`] that runs first.
pub struct L2Flush {
    method: FlushMethod,
    buf: CudaSlice<u8>,
    sink: CudaSlice<u8>,
    buf_ptr: u64,
    sink_ptr: u64,
    read: CudaFunction,
    grid: u32,
    code: Option<CodeFlush>,
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
            grid: four_blocks_per_sm(gpu.info().sm_count),
            code: None,
        })
    }

    /// Runs `code` before every flush: cold samples then also start with the SMs'
    /// instruction caches evicted (the code flush's own code then leaves L2 with the rest).
    pub fn with_code_flush(mut self, code: CodeFlush) -> Self {
        self.code = Some(code);
        self
    }

    /// Bytes of code the code flush runs through; 0 without one.
    pub fn code_flush_bytes(&self) -> u64 {
        self.code.as_ref().map_or(0, CodeFlush::code_bytes)
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
        if let Some(code) = &self.code {
            code.enqueue(stream)?;
        }
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
