//! GPU access through cudarc.
//!
//! cudarc loads `libcuda` lazily and panics when it is absent, so [`Gpu::open`] first
//! probes for the library and a device and returns [`RuntimeError::NoDriver`] or
//! [`RuntimeError::NoGpu`] instead. Buffers are raw `u16` (fp16 bits) allocations that
//! may carry guard bands; the kernel sees a pointer past the leading guard.

pub mod blas;
mod launch;
pub mod tensor_map;
pub mod timing;

use std::sync::Arc;

use cudadent_config::Arch;
use cudarc::driver::sys::CUdevice_attribute;
use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtr};

pub use launch::{AttentionArgs, LoadedKernel};

use crate::build::BuiltKernel;
use crate::RuntimeError;

/// What the GPU and driver are.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    /// Marketing name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// SASS arch of the device (`sm_90`).
    pub arch: Arch,
    /// Streaming multiprocessors.
    pub sm_count: u32,
    /// L2 cache bytes.
    pub l2_bytes: u64,
    /// Global memory bytes.
    pub total_mem_bytes: u64,
    /// Kernel driver version (`580.159.04`) where readable, else the CUDA driver API
    /// version (`13.0`).
    pub driver_version: String,
    /// CUDA version the driver supports (`13.0`).
    pub cuda_driver_api: String,
    /// PCI address, `domain:bus:device.0` in hex (`0:1b:0.0`): how NVML finds the same GPU.
    pub pci_bus_id: String,
}

pub(crate) fn drv(op: &str) -> impl FnOnce(cudarc::driver::DriverError) -> RuntimeError + '_ {
    move |e| RuntimeError::Driver {
        op: op.to_string(),
        detail: e.to_string(),
    }
}

/// Checks that libcuda can be loaded, without touching cudarc (which would panic).
pub fn probe_driver() -> Result<(), RuntimeError> {
    let names = ["libcuda.so.1", "libcuda.so"];
    let mut last = String::new();
    for n in names {
        // SAFETY-free: loading a library runs its initialisers; libcuda's are benign.
        match unsafe { libloading::Library::new(n) } {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(RuntimeError::NoDriver(format!(
        "could not load libcuda.so.1 ({last}); this machine has no NVIDIA driver, so GPU gates cannot run here"
    )))
}

/// An open GPU: context and the one stream every launch goes to.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: DeviceInfo,
}

impl Gpu {
    /// Opens device `ordinal` after probing for the driver.
    pub fn open(ordinal: usize) -> Result<Self, RuntimeError> {
        probe_driver()?;
        let count = std::panic::catch_unwind(CudaContext::device_count)
            .map_err(|_| RuntimeError::NoDriver("cudarc panicked while loading libcuda".into()))?
            .map_err(|e| RuntimeError::NoGpu(format!("cuDeviceGetCount: {e}")))?;
        if count <= ordinal as i32 {
            return Err(RuntimeError::NoGpu(format!(
                "the driver sees {count} GPU(s); device {ordinal} was asked for"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| {
            if e.0 == cudarc::driver::sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY {
                RuntimeError::OutOfDeviceMemory {
                    purpose: format!("a CUDA context on device {ordinal}"),
                    detail: format!("cuCtxCreate: {e}"),
                }
            } else {
                RuntimeError::NoGpu(format!("cuCtxCreate: {e}"))
            }
        })?;
        let stream = ctx.default_stream();
        let attr = |a| ctx.attribute(a).map_err(drv("cuDeviceGetAttribute"));
        let major = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)? as u32;
        let minor = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)? as u32;
        let sm_count = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;
        let l2_bytes = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as u64;
        let pci_bus_id = format!(
            "{:x}:{:x}:{:x}.0",
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)?,
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)?,
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)?
        );
        let name = ctx.name().map_err(drv("cuDeviceGetName"))?;
        let total_mem_bytes = ctx.total_mem().map_err(drv("cuDeviceTotalMem"))? as u64;
        let api = launch::driver_api_version()?;
        let cuda_driver_api = format!("{}.{}", api / 1000, (api % 1000) / 10);
        let driver_version = kernel_driver_version().unwrap_or_else(|| cuda_driver_api.clone());
        Ok(Gpu {
            info: DeviceInfo {
                name,
                arch: Arch::from_compute_capability(major, minor),
                sm_count,
                l2_bytes,
                total_mem_bytes,
                driver_version,
                cuda_driver_api,
                pci_bus_id,
            },
            ctx,
            stream,
        })
    }

    /// The device description.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The stream all work goes to.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// Picks the cubin this device runs: [`pick_cubin`].
    pub fn pick_cubin<'a>(
        &self,
        built: &'a BuiltKernel,
    ) -> Result<&'a crate::build::BuiltCubin, RuntimeError> {
        pick_cubin(self.info.arch, built).ok_or_else(|| RuntimeError::Unsupported {
            kernel: built.manifest.name.clone(),
            detail: format!(
                "no cubin runs on this {} ({}); built for {}",
                self.info.name,
                self.info.arch,
                built
                    .cubins
                    .iter()
                    .map(|c| c.arch.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// Loads `built`'s cubin for this device.
    pub fn load(&self, built: &BuiltKernel) -> Result<LoadedKernel, RuntimeError> {
        let m = &built.manifest;
        if self.info.arch.number() < m.min_arch.number() {
            return Err(RuntimeError::Unsupported {
                kernel: m.name.clone(),
                detail: format!(
                    "needs {} or newer; this GPU is {}",
                    m.min_arch, self.info.arch
                ),
            });
        }
        let cubin = self.pick_cubin(built)?;
        let bytes = std::fs::read(&cubin.cubin).map_err(|source| RuntimeError::Io {
            action: "read",
            path: cubin.cubin.clone(),
            source,
        })?;
        LoadedKernel::load(self, m, cubin.arch, cubin.sha256.clone(), bytes)
    }

    /// Checks, before allocating, that the device has `needed_bytes` free (plus 64 MiB of
    /// headroom for modules and the driver): a config too large for what is free is a clear
    /// [`RuntimeError::OutOfDeviceMemory`] (exit 3), not an allocation failure halfway.
    pub fn require_free(&self, needed_bytes: u64, purpose: &str) -> Result<(), RuntimeError> {
        self.ctx.bind_to_thread().map_err(drv("cuCtxSetCurrent"))?;
        let (free, total) = cudarc::driver::result::mem_get_info().map_err(drv("cuMemGetInfo"))?;
        let (free, total) = (free as u64, total as u64);
        if needed_bytes.saturating_add(64 << 20) > free {
            return Err(RuntimeError::OutOfDeviceMemory {
                purpose: purpose.to_string(),
                detail: format!(
                    "it needs {} MiB (with 64 MiB of headroom), the device has {} MiB free of {} MiB",
                    (needed_bytes + (64 << 20)) >> 20,
                    free >> 20,
                    total >> 20
                ),
            });
        }
        Ok(())
    }

    /// Allocates a buffer of `guard + payload + guard` fp16 elements and fills it from
    /// `host` (whose length must be that total).
    pub fn upload(&self, host: &[u16], guard: usize) -> Result<DeviceBuffer, RuntimeError> {
        let slice = self
            .stream
            .clone_htod(host)
            .map_err(drv("allocate and copy to device"))?;
        Ok(DeviceBuffer {
            payload: host.len().saturating_sub(2 * guard),
            guard,
            slice,
        })
    }

    /// Overwrites a whole buffer (guards included) from the host.
    pub fn write(&self, buf: &mut DeviceBuffer, host: &[u16]) -> Result<(), RuntimeError> {
        if host.len() != buf.slice.len() {
            return Err(RuntimeError::Driver {
                op: "copy to device".into(),
                detail: format!(
                    "host has {} elements, device buffer {}",
                    host.len(),
                    buf.slice.len()
                ),
            });
        }
        self.stream
            .memcpy_htod(host, &mut buf.slice)
            .map_err(drv("copy to device"))
    }

    /// Copies a whole buffer (guards included) back to the host.
    pub fn read(&self, buf: &DeviceBuffer) -> Result<Vec<u16>, RuntimeError> {
        self.stream
            .clone_dtoh(&buf.slice)
            .map_err(drv("copy to host"))
    }

    /// Waits for all work on the stream.
    pub fn synchronize(&self) -> Result<(), RuntimeError> {
        self.stream.synchronize().map_err(drv("stream synchronize"))
    }
}

/// A device allocation of fp16 bits with optional guard bands around the payload.
pub struct DeviceBuffer {
    slice: CudaSlice<u16>,
    guard: usize,
    payload: usize,
}

impl DeviceBuffer {
    /// Elements the kernel may touch.
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    /// Elements of guard before and after the payload.
    pub fn guard_len(&self) -> usize {
        self.guard
    }

    /// Device address of the first payload element.
    pub fn payload_ptr(&self, stream: &CudaStream) -> u64 {
        let (base, _sync) = self.slice.device_ptr(stream);
        base + (self.guard * std::mem::size_of::<u16>()) as u64
    }
}

/// The cubin a device of compute capability `dev` runs: the arch-specific build of exactly
/// that capability (`sm_90a` on a 9.0 GPU: a superset of `sm_90`, and the only code with
/// that arch's own instructions such as wgmma) where the config built one, else the newest
/// built arch of the same major version that is not newer than the device.
pub fn pick_cubin(dev: Arch, built: &BuiltKernel) -> Option<&crate::build::BuiltCubin> {
    let same = |c: &&crate::build::BuiltCubin| c.arch.major == dev.major;
    built
        .cubins
        .iter()
        .filter(same)
        .find(|c| c.arch.arch_specific && c.arch.minor == dev.minor)
        .or_else(|| {
            built
                .cubins
                .iter()
                .filter(same)
                .filter(|c| c.arch.minor <= dev.minor && !c.arch.arch_specific)
                .max_by_key(|c| c.arch.minor)
        })
}

/// The NVIDIA kernel module's version, from `/proc/driver/nvidia/version`.
fn kernel_driver_version() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    parse_proc_driver_version(&text)
}

/// Reads `580.159.04` out of `/proc/driver/nvidia/version`.
pub fn parse_proc_driver_version(text: &str) -> Option<String> {
    let re = regex::Regex::new(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)").ok()?;
    re.captures(text).map(|c| c[1].to_string())
}
