//! One kernel on one arch: its ptxas report, SASS and PTX, measured and judged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cudadent_config::{launch_file_stem, launch_label, KernelManifest, Launch};
use kernel_runtime::build::BuiltCubin;
use kernel_runtime::toolchain::Tool;
use kernel_runtime::RuntimeError;
use sass_inspect::occupancy::{occupancy, KernelResources, Occupancy};
use sass_inspect::policy::Limit;
use sass_inspect::{
    census, check, parse_ptx, parse_ptxas, parse_sass, tensor_core_lines, Census, InspectionRecord,
    Measured, Policy, PtxCensus, ResourceUsage,
};
use serde::Serialize;

/// Whether a row is a kernel under test or the config's reference kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Listed in `kernels.under_test` (or given with `--kernel`).
    UnderTest,
    /// `kernels.reference`.
    Reference,
}

/// A broken rule, with the kernel and arch it was found on.
#[derive(Debug, Clone, Serialize)]
pub struct KernelViolation {
    /// Kernel (manifest name).
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// The rule: a policy key (`require_tensor_cores`, `max_spill_bytes`, ...) or
    /// `sass_entry_present`.
    pub rule: String,
    /// The measured value; null where it was not measured.
    pub measured: Option<u64>,
    /// The bound it had to meet.
    pub limit: Option<Limit>,
    /// `kernel arch: rule: measured ...`.
    pub message: String,
}

/// Parser lines (or items) not understood: nonzero means a format this tool does not know.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NotUnderstood {
    /// In the ptxas report.
    pub ptxas: usize,
    /// In the cuobjdump SASS dump.
    pub sass: usize,
    /// In the PTX file.
    pub ptx: usize,
}

impl NotUnderstood {
    /// All three together.
    pub fn total(&self) -> usize {
        self.ptxas + self.sass + self.ptx
    }
}

/// What was measured and decided for one kernel on one arch (an element of `inspections`).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub kernel: String,
    pub arch: String,
    pub role: Role,
    /// The manifest launch inspected: `default` or a `[[launch_rule]]`'s name.
    pub launch: String,
    pub entry: String,
    pub cubin_sha256: String,
    /// sha256 of the cubin's whole `cuobjdump --dump-sass` listing: the machine code without
    /// the line-info tables, whose build paths make cubin bytes differ between checkouts.
    pub sass_sha256: String,
    pub registers: Option<u32>,
    pub spill_stores: Option<u32>,
    pub spill_loads: Option<u32>,
    /// Static + dynamic shared memory per block, bytes.
    pub shared_bytes: Option<u64>,
    pub static_shared_bytes: Option<u32>,
    /// From the manifest's launch, at the config's head dim.
    pub dynamic_shared_bytes: u32,
    pub barriers: Option<u32>,
    pub stack_frame_bytes: Option<u32>,
    pub constant_bytes: BTreeMap<u32, u32>,
    pub threads: u32,
    pub tensor_core_instructions: u64,
    pub tensor_core_f32_accumulate: u64,
    pub tensor_core_f16_accumulate: u64,
    pub local_memory_instructions: u64,
    pub global_load_max_bits: Option<u32>,
    pub occupancy: Option<Occupancy>,
    pub occupancy_error: Option<String>,
    /// SASS census of the entry function.
    pub census: Census,
    /// PTX census of the whole PTX file.
    pub ptx_census: PtxCensus,
    pub ptx_version: Option<String>,
    pub ptx_target: Option<String>,
    pub lines_not_understood: NotUnderstood,
    pub policy: Policy,
    pub violations: Vec<KernelViolation>,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    /// The artifacts written for this row, relative to the output root.
    pub ptxas_file: String,
    pub sass_file: String,
    /// Whether the cubin came from the build cache.
    pub cubin_cached: bool,
    /// Whether the SASS dump came from the SASS cache (keyed on the cubin's sha256).
    pub sass_cached: bool,
    #[serde(skip)]
    pub tensor_core_lines: Vec<String>,
    #[serde(skip)]
    pub ptxas_report: String,
}

impl Inspection {
    /// The kernel and launch as reports and snapshots name them: `kernel`, or
    /// `kernel[launch]` for a launch rule.
    pub fn label(&self) -> String {
        launch_label(&self.kernel, &self.launch)
    }

    /// The record the snapshot comparison works on (unmeasured values as 0).
    pub fn record(&self) -> InspectionRecord {
        InspectionRecord {
            kernel: self.label(),
            arch: self.arch.clone(),
            registers: self.registers.unwrap_or(0),
            spill_stores: self.spill_stores.unwrap_or(0),
            spill_loads: self.spill_loads.unwrap_or(0),
            shared_bytes: self.shared_bytes.unwrap_or(0),
            local_memory_instructions: self.local_memory_instructions,
            tensor_core_instructions: self.tensor_core_instructions,
        }
    }

    /// The tensor-core excerpt file: header lines, then the lines (or a line saying none).
    pub fn sass_excerpt(&self) -> String {
        let mut s = format!(
            "# kernel: {}\n# launch: {}\n# entry: {}\n# arch: {}\n# cubin sha256: {}\n# tensor-core instructions: {} (f32 accumulate {}, f16 accumulate {})\n",
            self.kernel,
            self.launch,
            self.entry,
            self.arch,
            self.cubin_sha256,
            self.tensor_core_instructions,
            self.tensor_core_f32_accumulate,
            self.tensor_core_f16_accumulate
        );
        if self.tensor_core_lines.is_empty() {
            s.push_str(&format!(
                "# none: no tensor-core instruction (HMMA/HGMMA/IMMA/QGMMA/...) in the SASS of `{}`\n",
                self.entry
            ));
        }
        for l in &self.tensor_core_lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// What one inspection needs besides the cubin.
pub struct Context<'a> {
    pub manifest: &'a KernelManifest,
    /// The launch whose entry and geometry are inspected.
    pub launch: Launch,
    pub role: Role,
    pub inspect: &'a cudadent_config::InspectSettings,
    pub cuobjdump: &'a Tool,
    pub sass_cache: Option<&'a Path>,
}

/// Inspects one built cubin.
pub fn inspect(cx: &Context<'_>, cubin: &BuiltCubin) -> Result<Inspection, RuntimeError> {
    let m = cx.manifest;
    // The launch's entry (a manifest may map head dims and launch rules to their own
    // entries): that is the function whose resources and SASS matter.
    let entry = cx.launch.entry.clone();
    let arch = cubin.arch.to_string();
    let (sass_text, sass_cached) = dump_sass(cx.cuobjdump, cubin, cx.sass_cache)?;
    // Lossy, like cuobjdump's output: a stray non-UTF-8 byte (a comment, a path in a
    // `.file` directive) costs one replaced character, not the whole inspection.
    let ptx_bytes = std::fs::read(&cubin.ptx).map_err(|source| RuntimeError::Io {
        action: "read",
        path: cubin.ptx.clone(),
        source,
    })?;
    let ptx_text = String::from_utf8_lossy(&ptx_bytes);

    let ptxas = parse_ptxas(&cubin.ptxas_report);
    let sass = parse_sass(&sass_text);
    let ptx = parse_ptx(&ptx_text);
    let not_understood = NotUnderstood {
        ptxas: ptxas.not_understood(),
        sass: sass.unknown_lines.len(),
        ptx: ptx.unknown_lines.len(),
    };

    let usage = ptxas
        .function(&entry, Some(&arch))
        .or_else(|| ptxas.function(&entry, None))
        .cloned()
        .unwrap_or_else(|| ResourceUsage {
            function: entry.clone(),
            ..ResourceUsage::default()
        });
    let function = sass
        .function(&entry, Some(&arch))
        .or_else(|| sass.function(&entry, None));
    let (sass_census, tc_lines) = match function {
        Some(f) => (census(&f.instructions), tensor_core_lines(&f.instructions)),
        None => (Census::default(), Vec::new()),
    };
    let dynamic = cx.launch.shared_bytes;
    let measured = Measured::new(&usage, &sass_census, u64::from(dynamic));
    let policy = Policy {
        require_tensor_cores: m.tensor_cores,
        require_f32_accumulate: m.tensor_cores,
        max_registers: cx.inspect.max_registers,
        max_spill_bytes: cx.inspect.max_spill_bytes,
        allow_local_memory: cx.inspect.allow_local_memory,
        max_shared_bytes: cx.inspect.max_shared_bytes,
    };
    let mut violations: Vec<KernelViolation> = check(&policy, &measured)
        .into_iter()
        .map(|v| KernelViolation {
            kernel: m.name.clone(),
            arch: arch.clone(),
            rule: v.rule.name().to_string(),
            measured: v.measured,
            limit: Some(v.limit),
            message: format!("{} {arch}: {}", m.name, v.message),
        })
        .collect();
    if function.is_none() {
        violations.push(KernelViolation {
            kernel: m.name.clone(),
            arch: arch.clone(),
            rule: "sass_entry_present".into(),
            measured: None,
            limit: None,
            message: format!(
                "{} {arch}: sass_entry_present: entry `{}` not found in the cuobjdump SASS of {} (functions: {})",
                m.name,
                entry,
                cubin.cubin.display(),
                sass.functions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }

    let (occ, occ_err) = match (usage.registers, usage.shared_bytes) {
        (Some(regs), Some(st)) => {
            let res = KernelResources {
                registers_per_thread: regs,
                threads_per_block: cx.launch.threads,
                shared_bytes_per_block: st.saturating_add(dynamic),
                barriers: usage.barriers.unwrap_or(0),
            };
            match occupancy(&arch, &res) {
                Ok(o) => (Some(o), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        _ => (
            None,
            Some("ptxas reported no register or shared-memory usage".into()),
        ),
    };
    let ptx_module = ptx.modules.first();
    let stem = format!("{}.{arch}", launch_file_stem(&m.name, &cx.launch.name));
    Ok(Inspection {
        kernel: m.name.clone(),
        arch,
        role: cx.role,
        launch: cx.launch.name.clone(),
        entry: entry.clone(),
        cubin_sha256: cubin.sha256.clone(),
        sass_sha256: cudadent_evidence::sha256_bytes(sass_text.as_bytes()),
        registers: usage.registers,
        spill_stores: usage.spill_stores_bytes,
        spill_loads: usage.spill_loads_bytes,
        shared_bytes: measured.shared_bytes,
        static_shared_bytes: usage.shared_bytes,
        dynamic_shared_bytes: dynamic,
        barriers: usage.barriers,
        stack_frame_bytes: usage.stack_frame_bytes,
        constant_bytes: usage.constant_bytes.clone(),
        threads: cx.launch.threads,
        tensor_core_instructions: sass_census.tensor_core.total,
        tensor_core_f32_accumulate: sass_census.tensor_core.f32_accumulate,
        tensor_core_f16_accumulate: sass_census.tensor_core.f16_accumulate,
        local_memory_instructions: sass_census.local_memory(),
        global_load_max_bits: sass_census.global_load_max_bits,
        occupancy: occ,
        occupancy_error: occ_err,
        census: sass_census,
        ptx_census: ptx.census(),
        ptx_version: ptx_module.and_then(|p| p.version.clone()),
        ptx_target: ptx_module.and_then(|p| p.target.clone()),
        lines_not_understood: not_understood,
        policy,
        verdict: if violations.is_empty() {
            "pass"
        } else {
            "fail"
        },
        violations,
        ptxas_file: format!("{stem}.ptxas.txt"),
        sass_file: format!("{stem}.sass.txt"),
        cubin_cached: cubin.cached,
        sass_cached,
        tensor_core_lines: tc_lines,
        ptxas_report: cubin.ptxas_report.clone(),
    })
}

/// `cuobjdump --dump-sass CUBIN`, from the SASS cache where the same cubin bytes were
/// dumped by the same cuobjdump before.
fn dump_sass(
    cuobjdump: &Tool,
    cubin: &BuiltCubin,
    cache: Option<&Path>,
) -> Result<(String, bool), RuntimeError> {
    let cached: Option<PathBuf> = cache.map(|dir| {
        let tool_key = cudadent_evidence::sha256_bytes(
            format!(
                "{}\0{}",
                cuobjdump.path.display(),
                cuobjdump.version.as_deref().unwrap_or("unknown")
            )
            .as_bytes(),
        );
        dir.join(format!("{}.{}.sass.txt", cubin.sha256, &tool_key[..16]))
    });
    if let Some(p) = &cached {
        if let Ok(text) = std::fs::read_to_string(p) {
            return Ok((text, true));
        }
    }
    let args = [
        std::ffi::OsString::from("--dump-sass"),
        cubin.cubin.clone().into_os_string(),
    ];
    let command = format!(
        "{} --dump-sass {}",
        cuobjdump.path.display(),
        cubin.cubin.display()
    );
    let out = child_guard::output(
        &duct::cmd(&cuobjdump.path, &args)
            .stdout_capture()
            .stderr_capture()
            .unchecked(),
    )
    .map_err(|e| RuntimeError::ToolFailed {
        command: command.clone(),
        detail: format!("could not start cuobjdump: {e}"),
    })?;
    if !out.status.success() {
        return Err(RuntimeError::ToolFailed {
            command,
            detail: format!(
                "exit {}: {}",
                out.status
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "signal".into()),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(p) = &cached {
        // A cache that cannot be written only costs the next run time.
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = cudadent_evidence::write_atomic(p, text.as_bytes());
    }
    Ok((text, false))
}
