//! Loading cubins and launching kernels: the only `unsafe` code in the workspace.

use std::sync::Arc;

use cudadent_config::{Arch, KernelManifest, Problem};
use cudarc::driver::sys::CUfunction_attribute_enum;
use cudarc::driver::{CudaFunction, CudaModule, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;

use super::Gpu;
use crate::RuntimeError;

/// Arguments of ABI `attention_fwd_v1`, pointers as device addresses.
#[derive(Debug, Clone, Copy)]
pub struct AttentionArgs {
    /// Q payload address.
    pub q: u64,
    /// K payload address.
    pub k: u64,
    /// V payload address.
    pub v: u64,
    /// O payload address.
    pub o: u64,
    /// Softmax scale.
    pub scale: f32,
}

/// A kernel loaded into the context, ready to launch.
pub struct LoadedKernel {
    _module: Arc<CudaModule>,
    func: CudaFunction,
    /// Functions of the manifest's `[entry_by_head_dim]` rows, by head dim.
    func_by_head_dim: Vec<(u32, CudaFunction)>,
    /// The manifest.
    pub manifest: KernelManifest,
    /// Arch of the cubin that was loaded.
    pub arch: Arch,
    /// sha256 of the loaded cubin.
    pub cubin_sha256: String,
}

impl LoadedKernel {
    pub(super) fn load(
        gpu: &Gpu,
        manifest: &KernelManifest,
        arch: Arch,
        cubin_sha256: String,
        bytes: Vec<u8>,
    ) -> Result<Self, RuntimeError> {
        let fail = |op: &str, e: cudarc::driver::DriverError| RuntimeError::KernelFailed {
            kernel: manifest.name.clone(),
            config: String::new(),
            op: op.to_string(),
            detail: e.to_string(),
        };
        let module = gpu
            .ctx
            .load_module(Ptx::from_binary(bytes))
            .map_err(|e| fail("load cubin", e))?;
        let max_dyn = manifest
            .dynamic_shared_bytes
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        let load_entry = |entry: &str| -> Result<CudaFunction, RuntimeError> {
            let func = module
                .load_function(entry)
                .map_err(|e| fail(&format!("find entry `{entry}`"), e))?;
            if max_dyn > 48 * 1024 {
                func.set_attribute(
                    CUfunction_attribute_enum::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    max_dyn as i32,
                )
                .map_err(|e| fail("allow dynamic shared memory above 48 KiB", e))?;
            }
            Ok(func)
        };
        let func = load_entry(&manifest.entry)?;
        let func_by_head_dim = manifest
            .entry_by_head_dim
            .iter()
            .map(|(&d, entry)| Ok((d, load_entry(entry)?)))
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        Ok(LoadedKernel {
            _module: module,
            func,
            func_by_head_dim,
            manifest: manifest.clone(),
            arch,
            cubin_sha256,
        })
    }

    /// Enqueues one launch for `problem` on the GPU's stream without waiting. The launch
    /// call's own error is returned; execution errors surface at the next synchronise.
    pub fn enqueue(
        &self,
        gpu: &Gpu,
        problem: &Problem,
        args: &AttentionArgs,
        config: &str,
    ) -> Result<(), RuntimeError> {
        self.enqueue_on(&gpu.stream, problem, args, config)
    }

    /// [`LoadedKernel::enqueue`] on another stream of the same context (the bench times
    /// on its own stream, because the legacy default stream cannot be captured into a
    /// CUDA graph). Pointers are plain addresses, so nothing here waits on or records
    /// cudarc's events: the call is safe to make while `stream` is capturing.
    pub fn enqueue_on(
        &self,
        stream: &cudarc::driver::CudaStream,
        problem: &Problem,
        args: &AttentionArgs,
        config: &str,
    ) -> Result<(), RuntimeError> {
        let (grid, block, shared) = super::launch_geometry(&self.manifest, problem);
        let cfg = LaunchConfig {
            grid_dim: grid,
            block_dim: block,
            shared_mem_bytes: shared,
        };
        let (b, h, s, d) = (
            problem.batch as i32,
            problem.heads as i32,
            problem.seq_len as i32,
            problem.head_dim as i32,
        );
        let causal = problem.causal as i32;
        let func = self
            .func_by_head_dim
            .iter()
            .find(|(dim, _)| *dim == problem.head_dim)
            .map_or(&self.func, |(_, f)| f);
        let mut launch = stream.launch_builder(func);
        launch
            .arg(&args.q)
            .arg(&args.k)
            .arg(&args.v)
            .arg(&args.o)
            .arg(&b)
            .arg(&h)
            .arg(&s)
            .arg(&d)
            .arg(&args.scale)
            .arg(&causal);
        // SAFETY:
        // 1. The argument list matches ABI attention_fwd_v1 exactly: four 8-byte device
        //    addresses, four `int`, one `float`, one `int`; the manifest declares that ABI.
        // 2. Each address points at a live allocation of at least B*H*S*D fp16 elements
        //    (the caller's `DeviceBuffer`s outlive the stream synchronisation that follows).
        // 3. Grid, block and dynamic shared memory come from the validated manifest.
        // 4. `func` is the manifest's entry for this head dim (`entry_for`), every one of
        //    which follows the same ABI.
        unsafe { launch.launch(cfg) }.map_err(|e| RuntimeError::KernelFailed {
            kernel: self.manifest.name.clone(),
            config: config.to_string(),
            op: format!("launch (grid {grid:?}, block {block:?}, {shared} B dynamic shared)"),
            detail: e.to_string(),
        })?;
        Ok(())
    }

    /// Launches once and waits: any launch or execution error (an illegal address, a
    /// trap) is returned naming kernel and config.
    pub fn launch_and_wait(
        &self,
        gpu: &Gpu,
        problem: &Problem,
        args: &AttentionArgs,
        config: &str,
    ) -> Result<(), RuntimeError> {
        self.enqueue(gpu, problem, args, config)?;
        gpu.stream
            .synchronize()
            .map_err(|e| RuntimeError::KernelFailed {
                kernel: self.manifest.name.clone(),
                config: config.to_string(),
                op: "execution (synchronise after launch)".into(),
                detail: e.to_string(),
            })
    }
}

/// `cuDriverGetVersion` (13000 for CUDA 13.0).
pub(super) fn driver_api_version() -> Result<i32, RuntimeError> {
    let mut v: std::ffi::c_int = 0;
    // SAFETY:
    // 1. The driver library was loaded by `CudaContext::new` before this is called.
    // 2. `v` is a valid, writable `c_int` for the duration of the call.
    let r = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut v) };
    if r != cudarc::driver::sys::CUresult::CUDA_SUCCESS {
        return Err(RuntimeError::Driver {
            op: "cuDriverGetVersion".into(),
            detail: format!("{r:?}"),
        });
    }
    Ok(v)
}
