//! Loading cubins and launching kernels (like all of the workspace's `unsafe`, in `device`).

use std::sync::{Arc, Mutex};

use cudadent_config::{Abi, Arch, KernelManifest, Launch, Problem};
use cudarc::driver::sys::CUfunction_attribute_enum;
use cudarc::driver::{CudaFunction, CudaModule, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;

use super::tensor_map::{encode_kv_map, kv_map_geometry, KvMapGeometry, TensorMapArg};
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
#[derive(Clone)]
pub struct LoadedKernel {
    _module: Arc<CudaModule>,
    /// Every entry of the manifest (`KernelManifest::entries`), by symbol.
    funcs: Vec<(String, CudaFunction)>,
    /// A launch every call uses instead of the one the manifest chooses per problem
    /// ([`LoadedKernel::forcing`]).
    forced: Option<String>,
    /// The manifest.
    pub manifest: KernelManifest,
    /// Arch of the cubin that was loaded.
    pub arch: Arch,
    /// sha256 of the loaded cubin.
    pub cubin_sha256: String,
    /// ABI attention_fwd_tma_v1: the K / V tensor maps last encoded, reused while the
    /// buffers and the shape stay the same (timing loops launch without re-encoding).
    tma_maps: Arc<Mutex<Option<TmaMaps>>>,
}

/// K and V tensor maps of one pair of buffers and one shape.
#[derive(Clone, Copy)]
struct TmaMaps {
    k: u64,
    v: u64,
    geometry: KvMapGeometry,
    map_k: TensorMapArg,
    map_v: TensorMapArg,
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
            .chain(manifest.launch_rules.iter().map(|r| r.dynamic_shared_bytes))
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
        let funcs = manifest
            .entries()
            .into_iter()
            .map(|entry| Ok((entry.to_string(), load_entry(entry)?)))
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        Ok(LoadedKernel {
            _module: module,
            funcs,
            forced: None,
            manifest: manifest.clone(),
            arch,
            cubin_sha256,
            tma_maps: Arc::new(Mutex::new(None)),
        })
    }

    /// The K and V tensor maps of ABI attention_fwd_tma_v1 for `args` at `problem`'s shape,
    /// from the cache when the buffers and shape are the ones last encoded.
    fn tma_maps(
        &self,
        problem: &Problem,
        args: &AttentionArgs,
        config: &str,
    ) -> Result<(TensorMapArg, TensorMapArg), RuntimeError> {
        let geometry = kv_map_geometry(problem);
        let mut cache = self
            .tma_maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = cache
            .as_ref()
            .filter(|m| m.k == args.k && m.v == args.v && m.geometry == geometry)
        {
            return Ok((m.map_k, m.map_v));
        }
        let encode = |address: u64, which: &str| {
            encode_kv_map(address, problem).map_err(|detail| RuntimeError::KernelFailed {
                kernel: self.manifest.name.clone(),
                config: config.to_string(),
                op: format!("encode the tensor map of {which} (ABI attention_fwd_tma_v1)"),
                detail,
            })
        };
        let maps = TmaMaps {
            k: args.k,
            v: args.v,
            geometry,
            map_k: encode(args.k, "K")?,
            map_v: encode(args.v, "V")?,
        };
        *cache = Some(maps);
        Ok((maps.map_k, maps.map_v))
    }

    /// The same kernel, launched as `launch` (a launch name of its manifest) for every
    /// problem instead of the launch the manifest chooses; `None` where the manifest has
    /// no such launch at head dim `d` in the loaded cubin's arch.
    pub fn forcing(&self, launch: &str, d: u32) -> Option<LoadedKernel> {
        self.manifest.launch_named(d, launch, self.arch)?;
        Some(LoadedKernel {
            forced: Some(launch.to_string()),
            ..self.clone()
        })
    }

    /// [`LoadedKernel::forcing`], or the reason it cannot: the manifest has no launch
    /// `launch` at head dim `d` in this cubin's arch (the message lists the ones it has).
    pub fn forcing_or_explain(&self, launch: &str, d: u32) -> Result<LoadedKernel, String> {
        self.forcing(launch, d).ok_or_else(|| {
            let have: Vec<String> = self
                .manifest
                .launches_at(d, self.arch)
                .into_iter()
                .map(|l| l.name)
                .collect();
            format!(
                "kernel `{}` has no launch `{launch}` at D={d} in its {} cubin (it has: {})",
                self.manifest.name,
                self.arch,
                have.join(", ")
            )
        })
    }

    /// The launch that runs `problem`: the forced one ([`LoadedKernel::forcing`]), else the
    /// manifest's choice ([`KernelManifest::launch_for`]).
    pub fn launch_for(&self, problem: &Problem) -> Launch {
        self.forced
            .as_deref()
            .and_then(|name| {
                self.manifest
                    .launch_named(problem.head_dim, name, self.arch)
            })
            .unwrap_or_else(|| self.manifest.launch_for(problem, self.arch))
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
        let chosen = self.launch_for(problem);
        let (grid, block, shared) = chosen.geometry(problem);
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
            .funcs
            .iter()
            .find(|(entry, _)| *entry == chosen.entry)
            .map(|(_, f)| f)
            .ok_or_else(|| RuntimeError::KernelFailed {
                kernel: self.manifest.name.clone(),
                config: config.to_string(),
                op: format!("find entry `{}`", chosen.entry),
                detail: "not loaded".into(),
            })?;
        let maps = match self.manifest.abi_of(&chosen) {
            Abi::AttentionFwdV1 => None,
            Abi::AttentionFwdTmaV1 => Some(self.tma_maps(problem, args, config)?),
        };
        let mut launch = stream.launch_builder(func);
        launch.arg(&args.q);
        match &maps {
            None => launch.arg(&args.k).arg(&args.v),
            Some((map_k, map_v)) => launch.arg(map_k).arg(map_v),
        };
        launch
            .arg(&args.o)
            .arg(&b)
            .arg(&h)
            .arg(&s)
            .arg(&d)
            .arg(&args.scale)
            .arg(&causal);
        // SAFETY:
        // 1. The argument list matches the launch's ABI exactly: attention_fwd_v1, four
        //    8-byte device addresses, four `int`, one `float`, one `int`; or
        //    attention_fwd_tma_v1, the same with K and V replaced by two 128-byte tensor maps
        //    encoded for those buffers at this problem's shape (`maps` outlives the call).
        // 2. Each address points at a live allocation of at least B*H*S*D fp16 elements
        //    (the caller's `DeviceBuffer`s outlive the stream synchronisation that follows).
        // 3. Grid, block and dynamic shared memory come from the validated manifest's
        //    launch `chosen`, whose entry `func` is.
        // 4. Every entry of a manifest follows the manifest's ABI.
        unsafe { launch.launch(cfg) }.map_err(|e| RuntimeError::KernelFailed {
            kernel: self.manifest.name.clone(),
            config: config.to_string(),
            op: format!(
                "launch `{}` (grid {grid:?}, block {block:?}, {shared} B dynamic shared)",
                chosen.name
            ),
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
