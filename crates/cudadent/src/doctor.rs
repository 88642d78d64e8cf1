//! `cudadent doctor`: one line per capability, and what its absence disables.

use cli_support::{exit, CommonArgs, Output};
use kernel_runtime::device::Gpu;
use kernel_runtime::toolchain::{self, INSTALL_COMMAND};

pub fn run(common: &CommonArgs) -> anyhow::Result<u8> {
    let out = Output::from_args(common);
    let mut code = exit::PASS;
    let tc = match common.toolchain() {
        Ok(tc) => {
            out.line(format!(
                "ok       nvcc {} at {} (found via {})",
                tc.version(),
                tc.nvcc.path.display(),
                tc.origin
            ));
            let ptxas = tc.root.join("bin/ptxas");
            if ptxas.is_file() {
                out.line(format!("ok       ptxas at {}", ptxas.display()));
            } else {
                out.line(format!("MISSING  ptxas beside nvcc: disables every build; install with {INSTALL_COMMAND}"));
                code = exit::CANNOT_RUN;
            }
            Some(tc)
        }
        Err(e) => {
            out.line(format!(
                "MISSING  nvcc: disables every build and gate ({e})"
            ));
            code = exit::CANNOT_RUN;
            None
        }
    };
    for (name, tool) in [
        ("cuobjdump", tc.as_ref().and_then(|t| t.cuobjdump.clone())),
        ("nvdisasm", tc.as_ref().and_then(|t| t.nvdisasm.clone())),
    ] {
        match tool {
            Some(t) => out.line(format!(
                "ok       {name} {} at {}",
                t.version.as_deref().unwrap_or("(version unknown)"),
                t.path.display()
            )),
            None => out.line(format!(
                "MISSING  {name}: disables sass-inspect's SASS census and tensor-core proof; install with {INSTALL_COMMAND}"
            )),
        }
    }
    match Gpu::open(0) {
        Ok(gpu) => {
            let i = gpu.info();
            out.line(format!(
                "ok       driver {} (CUDA {})",
                i.driver_version, i.cuda_driver_api
            ));
            out.line(format!(
                "ok       GPU {} ({}, {} SMs, {} MiB L2, {} GiB)",
                i.name,
                i.arch,
                i.sm_count,
                i.l2_bytes >> 20,
                i.total_mem_bytes >> 30
            ));
            out.line(match gpu_telemetry::Sampler::open(&i.pci_bus_id) {
                Ok(s) => {
                    let p = s.poll();
                    format!(
                        "ok       NVML for the GPU at PCI {} (SM clock now {} MHz; energy counter {})",
                        s.pci_bus_id(),
                        p.sm_mhz.map_or("?".into(), |m| m.to_string()),
                        p.energy_mj.map_or(
                            "unreadable: hot timings carry no energy per launch".into(),
                            |mj| format!("{:.1} kJ", mj as f64 / 1e6)
                        )
                    )
                }
                Err(e) => {
                    format!("MISSING  NVML: bench timings carry no SM clock or power state ({e})")
                }
            });
        }
        Err(e) => out.line(format!(
            "MISSING  GPU: disables oracle, sanitizer-gate and bench ({e})"
        )),
    }
    match toolchain::find_compute_sanitizer(tc.as_ref()) {
        Some(t) => out.line(format!(
            "ok       compute-sanitizer {} at {}",
            t.version.as_deref().unwrap_or("(version unknown)"),
            t.path.display()
        )),
        None => out.line("MISSING  compute-sanitizer: disables sanitizer-gate"),
    }
    match toolchain::find_ncu() {
        Some(t) => out.line(format!(
            "ok       ncu {} at {}",
            t.version.as_deref().unwrap_or("(version unknown)"),
            t.path.display()
        )),
        None => {
            out.line("MISSING  ncu: disables the bench's agreement check against Nsight Compute")
        }
    }
    out.line(python_torch_line());
    Ok(code)
}

fn python_torch_line() -> String {
    let probe = "import torch,sys;print(torch.__version__, torch.cuda.is_available())";
    match child_guard::output(
        &duct::cmd!("python3", "-c", probe)
            .stdout_capture()
            .stderr_capture()
            .unchecked(),
    ) {
        Ok(o) if o.status.success() => format!(
            "ok       python3 with torch {}",
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace(' ', " (cuda available: ")
                + ")"
        ),
        Ok(_) => "MISSING  python3 with torch: disables the bench's PyTorch SDPA baselines".into(),
        Err(_) => "MISSING  python3: disables the bench's PyTorch SDPA baselines".into(),
    }
}
