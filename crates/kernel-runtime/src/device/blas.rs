//! cuBLAS through cudarc (loaded at run time), for the bench's baselines and its peak
//! FLOP/s measurement: an unfused attention (batched `Q K^T`, a row softmax kernel,
//! batched `P V`) and a large fp16 GEMM. Like [`super::launch`], this module holds
//! `unsafe` code, each block with a numbered `# Safety` list.

use std::path::Path;
use std::sync::Arc;

use cudadent_config::Problem;
use cudarc::cublas::{sys as blas_sys, CudaBlas};
use cudarc::driver::{
    CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;

use super::{AttentionArgs, Gpu};
use crate::RuntimeError;

fn blas_err(op: &str, detail: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Driver {
        op: format!("cuBLAS {op}"),
        detail: detail.to_string(),
    }
}

/// Makes libcublas loadable: first by the names cudarc tries (the loader's path), else
/// by absolute path from `lib_dirs` (for example `<cuda root>/lib64`), loading
/// libcublasLt first. A library loaded by absolute path stays loaded, so cudarc's later
/// load by soname finds it. Returns where it was found, or why not.
pub fn probe_cublas(lib_dirs: &[&Path]) -> Result<String, RuntimeError> {
    // SAFETY:
    // 1. `is_culib_present` only tries to dlopen libcublas by name and closes it again;
    //    the library's initialisers are benign.
    if unsafe { blas_sys::is_culib_present() } {
        return Ok("libcublas found by the dynamic loader".into());
    }
    let mut tried = Vec::new();
    for dir in lib_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libcublas") && n.contains(".so."))
            })
            .collect();
        // libcublasLt before libcublas (the latter needs the former).
        names.sort_by_key(|p| !p.to_string_lossy().contains("cublasLt"));
        for p in &names {
            tried.push(p.display().to_string());
            // SAFETY:
            // 1. Loading a CUDA library runs its initialisers, which only register with
            //    the CUDA runtime; the handle is leaked on purpose so the library stays
            //    loaded for cudarc's later load by soname.
            if let Ok(lib) = unsafe { libloading::Library::new(p) } {
                std::mem::forget(lib);
            }
        }
        // SAFETY: as above.
        if unsafe { blas_sys::is_culib_present() } {
            return Ok(format!("libcublas loaded from {}", dir.display()));
        }
    }
    Err(RuntimeError::ToolMissing {
        tool: "libcublas".into(),
        searched: if tried.is_empty() {
            "the dynamic loader's path".into()
        } else {
            format!("the dynamic loader's path, {}", tried.join(", "))
        },
        install: "install the CUDA toolkit's cuBLAS (it ships with the toolkit)",
    })
}

fn new_blas(stream: &Arc<CudaStream>) -> Result<CudaBlas, RuntimeError> {
    // cudarc panics if the library is missing: callers probe first, and a panic is
    // caught here all the same.
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        CudaBlas::new(stream.clone())
    }))
    .map_err(|_| blas_err("create handle", "cudarc panicked while loading libcublas"))?;
    made.map_err(|e| blas_err("create handle", format!("{e:?}")))
}

/// One strided batched GEMM, fp16 A and B, fp32 compute.
struct Gemm {
    transa: bool,
    m: i32,
    n: i32,
    k: i32,
    alpha: f32,
    a: u64,
    lda: i32,
    stride_a: i64,
    b: u64,
    ldb: i32,
    stride_b: i64,
    c: u64,
    c_is_f32: bool,
    ldc: i32,
    stride_c: i64,
    batch: i32,
}

impl Gemm {
    /// # Safety
    /// 1. `a`, `b` and `c` are live device allocations of this handle's context holding
    ///    at least `stride * (batch - 1) + ld * cols` elements of the stated types
    ///    (fp16 for A and B; fp32 or fp16 for C), column-major as cuBLAS reads them.
    /// 2. They stay alive until the stream has executed the GEMM.
    unsafe fn enqueue(&self, blas: &CudaBlas) -> Result<(), RuntimeError> {
        let alpha = self.alpha;
        let beta = 0.0f32;
        let op = |t: bool| {
            if t {
                blas_sys::cublasOperation_t::CUBLAS_OP_T
            } else {
                blas_sys::cublasOperation_t::CUBLAS_OP_N
            }
        };
        let ctype = if self.c_is_f32 {
            blas_sys::cudaDataType_t::CUDA_R_32F
        } else {
            blas_sys::cudaDataType_t::CUDA_R_16F
        };
        // SAFETY: the caller's list above; alpha and beta are host f32 values, as
        // CUBLAS_COMPUTE_32F with the default (host) pointer mode requires.
        let status = unsafe {
            blas_sys::cublasGemmStridedBatchedEx(
                *blas.handle(),
                op(self.transa),
                blas_sys::cublasOperation_t::CUBLAS_OP_N,
                self.m,
                self.n,
                self.k,
                (&alpha as *const f32).cast(),
                self.a as *const std::ffi::c_void,
                blas_sys::cudaDataType_t::CUDA_R_16F,
                self.lda,
                self.stride_a,
                self.b as *const std::ffi::c_void,
                blas_sys::cudaDataType_t::CUDA_R_16F,
                self.ldb,
                self.stride_b,
                (&beta as *const f32).cast(),
                self.c as *mut std::ffi::c_void,
                ctype,
                self.ldc,
                self.stride_c,
                self.batch,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        };
        status
            .result()
            .map_err(|e| blas_err("cublasGemmStridedBatchedEx", format!("{e:?}")))
    }
}

/// Unfused attention through cuBLAS: `S = scale * Q K^T` (fp16 in, fp32 out), a row
/// softmax kernel (fp32 in, fp16 out, causal mask), `O = P V` (fp16 out, fp32 compute).
pub struct CublasAttention {
    blas: CudaBlas,
    _module: Arc<CudaModule>,
    softmax: CudaFunction,
    _scores: CudaSlice<f32>,
    _probs: CudaSlice<u16>,
    scores_ptr: u64,
    probs_ptr: u64,
    problem: Problem,
}

impl CublasAttention {
    /// Scratch bytes the baseline needs for `problem` (fp32 scores and fp16 probabilities).
    pub fn scratch_bytes(problem: &Problem) -> u64 {
        let bh = problem.batch as u64 * problem.heads as u64;
        let ss = problem.seq_len as u64 * problem.seq_len as u64;
        bh * ss * (4 + 2)
    }

    /// Prepares the baseline on `stream`: a cuBLAS handle bound to it, scratch buffers,
    /// and the softmax kernel from `softmax_cubin` (entry `softmax_entry`, signature
    /// `(const float* scores, __half* probs, int rows, int cols, int causal)`, one block
    /// of 256 threads per row). Call [`probe_cublas`] first.
    pub fn new(
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        softmax_cubin: Vec<u8>,
        softmax_entry: &str,
        problem: &Problem,
    ) -> Result<Self, RuntimeError> {
        let drv = |op: &str, e: cudarc::driver::DriverError| RuntimeError::Driver {
            op: op.to_string(),
            detail: e.to_string(),
        };
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(softmax_cubin))
            .map_err(|e| drv("load softmax cubin", e))?;
        let softmax = module
            .load_function(softmax_entry)
            .map_err(|e| drv("find softmax entry", e))?;
        let bh = problem.batch as usize * problem.heads as usize;
        let ss = problem.seq_len as usize * problem.seq_len as usize;
        let scores = stream
            .alloc_zeros::<f32>(bh * ss)
            .map_err(|e| drv("allocate scores", e))?;
        let probs = stream
            .alloc_zeros::<u16>(bh * ss)
            .map_err(|e| drv("allocate probabilities", e))?;
        // Addresses are taken once, here, outside any graph capture: `device_ptr` may
        // wait on and record cudarc's events, which a capturing stream must not see.
        let scores_ptr = scores.device_ptr(stream).0;
        let probs_ptr = probs.device_ptr(stream).0;
        let blas = new_blas(stream)?;
        Ok(CublasAttention {
            blas,
            _module: module,
            softmax,
            _scores: scores,
            _probs: probs,
            scores_ptr,
            probs_ptr,
            problem: problem.clone(),
        })
    }

    /// Enqueues one attention on the handle's stream. Nothing here records or waits on
    /// cudarc's events, so this may be captured into a CUDA graph.
    ///
    /// `args` must hold addresses of live `[B, H, S, D]` fp16 tensors of the problem
    /// this was made for (the same contract as [`super::LoadedKernel::enqueue`]).
    pub fn enqueue(
        &self,
        stream: &Arc<CudaStream>,
        args: &AttentionArgs,
    ) -> Result<(), RuntimeError> {
        let p = &self.problem;
        let (s, d) = (p.seq_len as i32, p.head_dim as i32);
        let batch = (p.batch * p.heads) as i32;
        let sd = s as i64 * d as i64;
        let ss = s as i64 * s as i64;
        let (scores, probs) = (self.scores_ptr, self.probs_ptr);
        // Row-major S[i][j] = q_i . k_j is column-major S^T = K Q^T: A = K (read as
        // D x S, transposed), B = Q (D x S).
        let qk = Gemm {
            transa: true,
            m: s,
            n: s,
            k: d,
            alpha: args.scale,
            a: args.k,
            lda: d,
            stride_a: sd,
            b: args.q,
            ldb: d,
            stride_b: sd,
            c: scores,
            c_is_f32: true,
            ldc: s,
            stride_c: ss,
            batch,
        };
        // Row-major O = P V is column-major O^T = V^T P^T: A = V (D x S), B = P (S x S).
        let pv = Gemm {
            transa: false,
            m: d,
            n: s,
            k: s,
            alpha: 1.0,
            a: args.v,
            lda: d,
            stride_a: sd,
            b: probs,
            ldb: s,
            stride_b: ss,
            c: args.o,
            c_is_f32: false,
            ldc: d,
            stride_c: sd,
            batch,
        };
        // SAFETY:
        // 1. Q, K, V, O are live [B, H, S, D] fp16 tensors (the caller's contract), and
        //    `scores` / `probs` are this struct's own B*H*S*S allocations, alive as long
        //    as `self`; the strides and leading dimensions above stay inside them.
        // 2. Everything is enqueued on the handle's stream, which the caller
        //    synchronises before the buffers are freed.
        unsafe { qk.enqueue(&self.blas)? };
        let rows = batch * s;
        let causal = p.causal as i32;
        let cfg = LaunchConfig {
            grid_dim: (rows as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = stream.launch_builder(&self.softmax);
        launch
            .arg(&scores)
            .arg(&probs)
            .arg(&rows)
            .arg(&s)
            .arg(&causal);
        // SAFETY:
        // 1. The softmax entry takes (const float*, __half*, int, int, int), matching the
        //    five arguments pushed above.
        // 2. `scores` holds rows * S fp32 and `probs` rows * S fp16 elements; the kernel
        //    touches row blockIdx.x < rows only.
        // 3. One block of 256 threads per row, no dynamic shared memory.
        unsafe { launch.launch(cfg) }.map_err(|e| RuntimeError::Driver {
            op: "launch softmax_rows".into(),
            detail: e.to_string(),
        })?;
        // SAFETY: as for the first GEMM.
        unsafe { pv.enqueue(&self.blas)? };
        Ok(())
    }
}

/// A square fp16 GEMM (fp32 compute) on buffers it owns: the FLOP/s peak probe.
pub struct GemmProbe {
    blas: CudaBlas,
    a: CudaSlice<u16>,
    b: CudaSlice<u16>,
    c: CudaSlice<u16>,
    n: i32,
}

impl GemmProbe {
    /// Allocates three `n x n` fp16 matrices (A and B filled with small values) on `stream`.
    pub fn new(stream: &Arc<CudaStream>, n: usize) -> Result<Self, RuntimeError> {
        let drv = |op: &str, e: cudarc::driver::DriverError| RuntimeError::Driver {
            op: op.to_string(),
            detail: e.to_string(),
        };
        // 0x2C00 is fp16 0.0625: products stay far from overflow.
        let host = vec![0x2C00u16; n * n];
        let a = stream
            .clone_htod(&host)
            .map_err(|e| drv("allocate GEMM A", e))?;
        let b = stream
            .clone_htod(&host)
            .map_err(|e| drv("allocate GEMM B", e))?;
        let c = stream
            .alloc_zeros::<u16>(n * n)
            .map_err(|e| drv("allocate GEMM C", e))?;
        let blas = new_blas(stream)?;
        Ok(GemmProbe {
            blas,
            a,
            b,
            c,
            n: n as i32,
        })
    }

    /// Floating-point operations of one GEMM (2 n^3).
    pub fn flops(&self) -> f64 {
        2.0 * (self.n as f64).powi(3)
    }

    /// Enqueues one GEMM on `stream` (the stream the probe was made on).
    pub fn enqueue(&mut self, stream: &Arc<CudaStream>) -> Result<(), RuntimeError> {
        let n = self.n;
        let a = self.a.device_ptr(stream).0;
        let b = self.b.device_ptr(stream).0;
        let c = self.c.device_ptr(stream).0;
        let g = Gemm {
            transa: false,
            m: n,
            n,
            k: n,
            alpha: 1.0,
            a,
            lda: n,
            stride_a: 0,
            b,
            ldb: n,
            stride_b: 0,
            c,
            c_is_f32: false,
            ldc: n,
            stride_c: 0,
            batch: 1,
        };
        // SAFETY:
        // 1. A, B and C are this probe's own n x n fp16 allocations, alive while `self` is.
        // 2. The GEMM runs on the stream they were allocated on, in order with their frees.
        unsafe { g.enqueue(&self.blas) }
    }
}
