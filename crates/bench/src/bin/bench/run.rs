//! `bench` (no subcommand): check, time, compare against baselines, write the artifacts.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use bench::record::{self, BaselineResult, BenchSummary, Clocks, Correctness, KernelResult};
use bench::{Mode, Peaks, SampleSet, SamplesFile, SetKind, StopRule, Timing, Work};
use cli_support::{build_all, exit, header, Output};
use cudadent_config::Config;
use cudadent_evidence::{now_rfc3339, write_json_atomic, Verdict};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};
use half::f16;
use kernel_runtime::device::blas::{self, CublasAttention, GemmProbe};
use kernel_runtime::device::timing::{
    code_flush_ptx, CodeFlush, FlushMethod, HelperKernels, L2Flush, CODE_FLUSH_INSTRUCTIONS,
    CODE_FLUSH_THREADS,
};
use kernel_runtime::device::{AttentionArgs, Gpu, LoadedKernel};
use oracle::{PassRule, Shape, Tolerance};

use crate::timing::{best_of, drv, Measured, Timer};
use crate::Cli;

/// A progress line on stderr, only when stderr is a terminal (logs and --json stay clean).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(out: &Output) -> Self {
        if out.quiet || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(pb))
    }
    fn set(&self, msg: impl Into<String>) {
        if let Some(pb) = &self.0 {
            pb.set_message(msg.into());
        }
    }
    fn done(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// The fp64 and fp16-order references on a few heads, and the rule that judges outputs.
struct Judge {
    shape: Shape,
    heads: Vec<(usize, usize)>,
    sub: Shape,
    exact: Vec<f64>,
    fp16_order: Vec<f32>,
    rule: PassRule,
}

impl Judge {
    fn new(
        cfg: &Config,
        shape: Shape,
        inputs: &oracle::Inputs,
        scale: f32,
    ) -> anyhow::Result<Self> {
        let bad = |e: oracle::OracleError| cli_support::bad_input(e.to_string());
        let (b, h) = (shape.batch, shape.heads);
        let mut heads = vec![(0, 0), (b / 2, h / 2), (b - 1, h - 1)];
        heads.dedup();
        let exact =
            oracle::attention_f64_heads(&shape, &inputs.q, &inputs.k, &inputs.v, scale, &heads)
                .map_err(bad)?;
        let fp16_order = oracle::attention_f16_order_heads(
            &shape, &inputs.q, &inputs.k, &inputs.v, scale, &heads,
        )
        .map_err(bad)?;
        let rule = PassRule::new(Tolerance::from(&cfg.oracle.tolerance)).map_err(bad)?;
        Ok(Judge {
            sub: Shape::new(1, heads.len(), shape.seq_len, shape.head_dim, shape.causal),
            shape,
            heads,
            exact,
            fp16_order,
            rule,
        })
    }

    fn judge(&self, name: &str, when: &str, o_bits: &[u16]) -> anyhow::Result<Correctness> {
        let bad = |e: oracle::OracleError| cli_support::bad_input(e.to_string());
        let o: Vec<f16> = o_bits.iter().map(|&b| f16::from_bits(b)).collect();
        let got = oracle::gather_heads(&self.shape, &o, &self.heads).map_err(bad)?;
        let kr = self
            .rule
            .measure(&self.sub, &got, &self.exact)
            .map_err(bad)?;
        let sr = self
            .rule
            .measure(&self.sub, &self.fp16_order, &self.exact)
            .map_err(bad)?;
        let v = self.rule.evaluate(&kr, &sr);
        Ok(Correctness {
            kernel: name.to_string(),
            when: when.to_string(),
            passed: v.passed,
            max_abs_err: kr.max_abs_err,
            bound: v.bound,
            heads: self.heads.clone(),
            reason: v.reason,
        })
    }
}

/// Q, K, V, O and a poison copy of O on the bench stream.
struct Buffers {
    q: CudaSlice<u16>,
    k: CudaSlice<u16>,
    v: CudaSlice<u16>,
    o: CudaSlice<u16>,
    poison: CudaSlice<u16>,
    host_q: Vec<u16>,
    host_k: Vec<u16>,
    host_v: Vec<u16>,
}

impl Buffers {
    fn new(stream: &Arc<CudaStream>, inputs: &oracle::Inputs) -> anyhow::Result<Self> {
        let bits = |t: &[f16]| t.iter().map(|x| x.to_bits()).collect::<Vec<u16>>();
        let (host_q, host_k, host_v) = (bits(&inputs.q), bits(&inputs.k), bits(&inputs.v));
        let n = host_q.len();
        let up = |h: &[u16]| stream.clone_htod(h).map_err(drv("allocate and upload"));
        Ok(Buffers {
            q: up(&host_q)?,
            k: up(&host_k)?,
            v: up(&host_v)?,
            o: stream.alloc_zeros::<u16>(n).map_err(drv("allocate O"))?,
            poison: up(&oracle::guard::poison(n))?,
            host_q,
            host_k,
            host_v,
        })
    }

    fn args(&self, stream: &Arc<CudaStream>, scale: f32) -> AttentionArgs {
        AttentionArgs {
            q: self.q.device_ptr(stream).0,
            k: self.k.device_ptr(stream).0,
            v: self.v.device_ptr(stream).0,
            o: self.o.device_ptr(stream).0,
            scale,
        }
    }

    /// Overwrites O with NaN poison (device to device, untimed).
    fn poison(&mut self, stream: &Arc<CudaStream>) -> anyhow::Result<()> {
        stream
            .memcpy_dtod(&self.poison, &mut self.o)
            .map_err(drv("poison O"))
    }

    fn read_o(&self, stream: &Arc<CudaStream>) -> anyhow::Result<Vec<u16>> {
        stream.clone_dtoh(&self.o).map_err(drv("copy O to host"))
    }

    /// The first input buffer whose contents changed, if any.
    fn inputs_changed(&self, stream: &Arc<CudaStream>) -> anyhow::Result<Option<&'static str>> {
        for (name, dev, host) in [
            ("Q", &self.q, &self.host_q),
            ("K", &self.k, &self.host_k),
            ("V", &self.v, &self.host_v),
        ] {
            if stream.clone_dtoh(dev).map_err(drv("copy input to host"))? != *host {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

/// Something to time: a kernel under test or a baseline, enqueued on the bench stream.
type Enqueue<'a> = Box<dyn Fn(&Arc<CudaStream>) -> anyhow::Result<()> + 'a>;

struct Timed {
    cold: Option<Measured>,
    hot: Option<Measured>,
    checks: Vec<Correctness>,
    notes: Vec<String>,
    correct: bool,
}

#[allow(clippy::too_many_arguments)]
fn check_and_time(
    name: &str,
    enqueue: &Enqueue,
    timer: &mut Timer,
    bufs: &std::cell::RefCell<Buffers>,
    judge: &Judge,
    cfg: &Config,
    modes: &[Mode],
    progress: &Progress,
) -> anyhow::Result<Timed> {
    let stream = timer.stream.clone();
    let mut t = Timed {
        cold: None,
        hot: None,
        checks: Vec::new(),
        notes: Vec::new(),
        correct: true,
    };
    let run_check = |when: &str| -> anyhow::Result<Correctness> {
        stream
            .synchronize()
            .map_err(|e| kernel_runtime::RuntimeError::KernelFailed {
                kernel: name.to_string(),
                config: cfg.name.clone(),
                op: format!("execution (synchronise before the {when} check)"),
                detail: e.to_string(),
            })?;
        let b = bufs.borrow();
        let mut c = judge.judge(name, when, &b.read_o(&stream)?)?;
        if let Some(which) = b.inputs_changed(&stream)? {
            c.passed = false;
            let extra = format!("the kernel modified its input {which}");
            c.reason = Some(match c.reason.take() {
                Some(r) => format!("{r}; {extra}"),
                None => extra,
            });
        }
        Ok(c)
    };
    progress.set(format!("{name}: checking output before timing"));
    bufs.borrow_mut().poison(&stream)?;
    enqueue(&stream)?;
    let before = run_check("before")?;
    let ok = before.passed;
    t.checks.push(before);
    if !ok {
        t.correct = false;
        t.notes.push(format!(
            "{name}: wrong output before timing: no time is reported"
        ));
        return Ok(t);
    }
    let rule = StopRule::new(
        cfg.bench.min_samples,
        cfg.bench.min_time_s,
        cfg.bench.target_rel_stdev,
        cfg.bench.timeout_s,
    );
    let mut poison = |s: &Arc<CudaStream>| bufs.borrow_mut().poison(s);
    for &mode in modes {
        progress.set(format!("{name}: timing {mode}"));
        let m = match mode {
            Mode::Cold => timer.cold(&rule, cfg.bench.warmup, &mut poison, enqueue.as_ref())?,
            Mode::Hot => {
                let (m, fallback) = timer.hot(
                    &rule,
                    cfg.bench.warmup,
                    cfg.bench.hot_launches,
                    &mut poison,
                    enqueue.as_ref(),
                )?;
                if let Some(why) = fallback {
                    t.notes.push(format!(
                        "{name}: hot mode timed back to back (graph capture failed: {why})"
                    ));
                }
                m
            }
        };
        // The output of the last timed launch (O was poisoned before the sample).
        let after = run_check(&format!("after_{mode}"))?;
        let ok = after.passed;
        t.checks.push(after);
        if !ok {
            t.correct = false;
            t.notes.push(format!(
                "{name}: wrong output of the timed launches ({mode}): no time is reported"
            ));
            t.cold = None;
            t.hot = None;
            return Ok(t);
        }
        match mode {
            Mode::Cold => t.cold = Some(m),
            Mode::Hot => t.hot = Some(m),
        }
    }
    Ok(t)
}

fn timing_of(mode: Mode, m: &Measured, work: &Work, peaks: &Peaks) -> Option<Timing> {
    let t = Timing::from_samples(
        mode,
        &m.samples_us,
        m.stop,
        m.sampling_s,
        m.launches,
        m.method,
        work,
        peaks,
    )?;
    Some(t.with_gpu(m.gpu.clone()))
}

fn clocks_now() -> Result<record::ClockReading, String> {
    let out = child_guard::output(
        &duct::cmd!(
            "nvidia-smi",
            "--query-gpu=clocks.sm,clocks.max.sm",
            "--format=csv,noheader"
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked(),
    )
    .map_err(|e| format!("nvidia-smi: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    record::parse_clocks(&text)
        .ok_or_else(|| format!("nvidia-smi printed no clocks: {}", text.trim()))
}

/// Peak device-to-device copy bandwidth (bytes read + written per second), best of 10.
fn measure_bandwidth(stream: &Arc<CudaStream>, bytes: usize) -> anyhow::Result<f64> {
    let src = stream
        .alloc_zeros::<u8>(bytes)
        .map_err(drv("allocate bandwidth probe"))?;
    let mut dst = stream
        .alloc_zeros::<u8>(bytes)
        .map_err(drv("allocate bandwidth probe"))?;
    let mut copy =
        || -> anyhow::Result<()> { stream.memcpy_dtod(&src, &mut dst).map_err(drv("copy")) };
    copy()?;
    let best = best_of(stream, 10, copy)?;
    Ok(2.0 * bytes as f64 / best / 1e9)
}

/// Peak fp16 GEMM TFLOP/s through cuBLAS (8192^3, fp32 compute), best of 10.
fn measure_flops(stream: &Arc<CudaStream>) -> anyhow::Result<f64> {
    let mut g = GemmProbe::new(stream, 8192)?;
    for _ in 0..3 {
        g.enqueue(stream)?;
    }
    let best = best_of(stream, 10, || Ok(g.enqueue(stream)?))?;
    Ok(g.flops() / best / 1e12)
}

/// Builds one of the bench's helper kernels (the timing helpers, the cuBLAS baseline's
/// softmax, the code flush) with nvcc for `arch`: `source`, a `.cu` or `.ptx` file's text
/// (by `ext`), saved as `<stem>.<ext>` in the bench's cache folder. Returns the cubin's path
/// and bytes.
fn build_helper(
    tc: &kernel_runtime::toolchain::Toolchain,
    arch: &str,
    stem: &str,
    ext: &str,
    source: &str,
) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let dir = kernel_runtime::build::default_cache_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let src = dir.join(format!("{stem}.{ext}"));
    std::fs::write(&src, source).with_context(|| format!("writing {}", src.display()))?;
    let cubin = dir.join(format!("{stem}.{arch}.cubin"));
    let out = child_guard::output(
        &duct::cmd(
            &tc.nvcc.path,
            [
                "-cubin",
                "-O3",
                &format!("-arch={arch}"),
                "-o",
                &cubin.display().to_string(),
                &src.display().to_string(),
            ],
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked(),
    )
    .with_context(|| format!("running nvcc for {stem}.{ext}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "nvcc failed on {stem}.{ext}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::read(&cubin).with_context(|| format!("reading {}", cubin.display()))?;
    Ok((cubin, bytes))
}

/// Times the empty kernel in each mode like a kernel under test: what a kernel that does
/// nothing costs under this method (launch, events, for hot the graph's per-launch cost).
fn measure_floor(
    timer: &mut Timer,
    helpers: &HelperKernels,
    cfg: &Config,
    modes: &[Mode],
) -> anyhow::Result<record::LaunchFloor> {
    let rule = StopRule::new(
        cfg.bench.min_samples,
        cfg.bench.min_time_s,
        cfg.bench.target_rel_stdev,
        cfg.bench.timeout_s,
    );
    let work = |s: &Arc<CudaStream>| -> anyhow::Result<()> { Ok(helpers.enqueue_empty(s)?) };
    let mut nothing = |_: &Arc<CudaStream>| -> anyhow::Result<()> { Ok(()) };
    let mut floor = record::LaunchFloor::default();
    for &mode in modes {
        let m = match mode {
            Mode::Cold => timer.cold(&rule, cfg.bench.warmup, &mut nothing, &work)?,
            Mode::Hot => {
                timer
                    .hot(
                        &rule,
                        cfg.bench.warmup,
                        cfg.bench.hot_launches,
                        &mut nothing,
                        &work,
                    )?
                    .0
            }
        };
        let p50 = bench::stats::median(&m.samples_us);
        match mode {
            Mode::Cold => floor.cold_p50_us = p50,
            Mode::Hot => floor.hot_p50_us = p50,
        }
    }
    Ok(floor)
}

fn sdpa_script(cli: &Cli) -> PathBuf {
    cli.sdpa_script.clone().unwrap_or_else(|| {
        kernel_runtime::toolchain::repository_root()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("scripts/sdpa_baseline.py")
    })
}

/// `--launch NAME` must name a launch that every kernel under test has at the config's head
/// dim in some arch the config builds (which arch's cubin loads is known only on the GPU,
/// where the load checks again): a typo is bad input before any GPU is needed.
fn check_launch_name(cfg: &cudadent_config::Config, name: &str) -> anyhow::Result<()> {
    let d = cfg.problem.head_dim;
    for m in &cfg.kernels.under_test {
        let archs = &cfg.kernels.archs;
        if archs.iter().any(|&a| m.launch_named(d, name, a).is_some()) {
            continue;
        }
        let mut have: Vec<String> = Vec::new();
        for l in archs.iter().flat_map(|&a| m.launches_at(d, a)) {
            if !have.contains(&l.name) {
                have.push(l.name);
            }
        }
        return Err(cli_support::bad_input(format!(
            "--launch {name}: kernel `{}` has no launch `{name}` at D={d} in any arch config `{}` builds (it has: {})",
            m.name,
            cfg.name,
            have.join(", ")
        )));
    }
    Ok(())
}

pub fn main(cli: &Cli) -> anyhow::Result<u8> {
    let out = Output::from_args(&cli.common);
    let started = Instant::now();
    let started_at = now_rfc3339();
    let cfg = cli.common.load_config()?;
    if let Some(name) = &cli.launch {
        check_launch_name(&cfg, name)?;
    }
    // Probe the driver first: without a GPU nothing here can run (exit 3).
    kernel_runtime::device::probe_driver()?;
    // Held for the whole run: a second bench of this config waits instead of timing
    // against this one on the same GPU, and the two never mix files.
    let _run_lock = cli.common.lock_gate_dir("bench", &cfg.name)?;
    let tc = cli.common.toolchain()?;
    let built = build_all(&cfg, &tc, false)?;
    let gpu = Gpu::open(0)?;
    let progress = Progress::new(&out);
    let info = gpu.info().clone();
    {
        // Q, K, V, O (fp16), the L2 flush buffer and the bandwidth probe's two buffers; the
        // cuBLAS baseline's S x S scratch is checked on its own (it is skipped when large).
        let p = &cfg.problem;
        let elems = p.batch as u64 * p.heads as u64 * p.seq_len as u64 * p.head_dim as u64;
        let flush = (2 * info.l2_bytes).max(8 << 20);
        let probe = (info.total_mem_bytes / 16).clamp(64 << 20, 1 << 30);
        gpu.require_free(
            4 * elems * 2 + flush + 2 * probe,
            &format!(
                "config `{}`: Q, K, V, O, the L2 flush and the bandwidth probe",
                cfg.name
            ),
        )?;
    }
    let n_test = cfg.kernels.under_test.len();
    let mut loaded: Vec<LoadedKernel> = built[..n_test]
        .iter()
        .map(|b| gpu.load(b))
        .collect::<Result<_, _>>()?;
    if let Some(name) = &cli.launch {
        let d = cfg.problem.head_dim;
        loaded = loaded
            .iter()
            .map(|k| k.forcing_or_explain(name, d))
            .collect::<Result<_, _>>()
            .map_err(cli_support::bad_input)?;
    }
    let modes: Vec<Mode> = match cli.mode.as_deref() {
        Some("cold") => vec![Mode::Cold],
        Some("hot") => vec![Mode::Hot],
        _ => vec![Mode::Cold, Mode::Hot],
    };
    let mut notes: Vec<String> = Vec::new();
    let stream = gpu
        .context()
        .new_stream()
        .map_err(drv("create the bench stream"))?;
    let flush_bytes = ((2 * info.l2_bytes) as usize).max(8 << 20);
    let flush_method = FlushMethod::from(cli.l2_flush);
    let (_, helpers) = build_helper(
        &tc,
        &info.arch.to_string(),
        "timing_helpers",
        "cu",
        include_str!("../../timing_helpers.cu"),
    )
    .context("building the timing helpers (L2 flush, empty and spin kernels)")?;
    let helper_kernels = Arc::new(HelperKernels::new(&gpu, helpers)?);
    let mut flush = L2Flush::new(&gpu, &stream, flush_method, flush_bytes, &helper_kernels)?;
    // The code flush's cubin, also handed to the SDPA script (it loads it with the driver).
    let mut code_flush_cubin: Option<PathBuf> = None;
    if cli.icache_flush {
        progress.set("building the code flush (1 MiB of straight-line code)");
        let (path, cubin) = build_helper(
            &tc,
            &info.arch.to_string(),
            "code_flush",
            "ptx",
            &code_flush_ptx(CODE_FLUSH_INSTRUCTIONS),
        )
        .context("building the code flush (--icache-flush)")?;
        let code = CodeFlush::new(&gpu, &stream, cubin, CODE_FLUSH_INSTRUCTIONS)?;
        flush = flush.with_code_flush(code);
        code_flush_cubin = Some(path);
    }
    let mut timer = Timer::new(stream.clone(), flush, helper_kernels.clone())?;
    let gpu_telemetry = match gpu_telemetry::Sampler::open(&info.pci_bus_id) {
        Ok(s) => {
            let how = format!(
                "NVML, GPU at PCI {}: SM clock, board power, energy counter and clock-event reasons polled every {} ms while each set's samples were taken",
                s.pci_bus_id(),
                gpu_telemetry::INTERVAL.as_millis()
            );
            timer.sampler = Some(s);
            how
        }
        Err(e) => format!("none: {e}"),
    };
    let mut clocks = Clocks::default();
    match clocks_now() {
        Ok(c) => clocks.before = Some(c),
        Err(e) => clocks.note = Some(e),
    }

    // Peaks, once per run.
    progress.set("measuring peaks");
    let lib_dirs = [
        tc.root.join("lib64"),
        tc.root.join("targets/x86_64-linux/lib"),
    ];
    let lib_refs: Vec<&Path> = lib_dirs.iter().map(PathBuf::as_path).collect();
    let cublas = blas::probe_cublas(&lib_refs);
    let bw_bytes = ((info.total_mem_bytes / 16) as usize).clamp(64 << 20, 1 << 30);
    let bandwidth = measure_bandwidth(&stream, bw_bytes)?;
    let tflops = match &cublas {
        Ok(_) => match measure_flops(&stream) {
            Ok(t) => Some(t),
            Err(e) => {
                notes.push(format!("peak FLOP/s not measured: {e:#}"));
                None
            }
        },
        Err(e) => {
            notes.push(format!("peak FLOP/s not measured: {e}"));
            None
        }
    };
    let peaks = Peaks {
        bandwidth_gbs: Some(bandwidth),
        tflops,
    };
    let peak_method = format!(
        "bandwidth: best of 10 device-to-device copies of {} MiB (read + write bytes); FLOP/s: best of 10 cuBLAS fp16 GEMMs 8192^3 with fp32 compute",
        bw_bytes >> 20
    );

    // The floor of the method itself: an empty kernel timed the same way.
    progress.set("timing the empty kernel (launch and events)");
    let launch_floor = measure_floor(&mut timer, &helper_kernels, &cfg, &modes)?;

    // Inputs and references.
    let p = &cfg.problem;
    let shape = Shape::new(
        p.batch as usize,
        p.heads as usize,
        p.seq_len as usize,
        p.head_dim as usize,
        p.causal,
    );
    let scale = p.default_scale();
    let inputs = oracle::generate(&shape, oracle::Distribution::Normal, cfg.oracle.seed)
        .map_err(|e| cli_support::bad_input(e.to_string()))?;
    progress.set("computing the fp64 reference on sampled heads");
    let judge = Judge::new(&cfg, shape, &inputs, scale)?;
    let bufs = std::cell::RefCell::new(Buffers::new(&stream, &inputs)?);
    stream
        .synchronize()
        .map_err(drv("synchronise after upload"))?;
    let args = bufs.borrow().args(&stream, scale);
    let work = Work::of(p);

    let mut results = Vec::new();
    let mut baselines = Vec::new();
    let mut sets = Vec::new();
    let mut correctness = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    let push_sets = |name: &str,
                     kind: SetKind,
                     t: &Timed,
                     into_results: &mut Vec<(Mode, Timing)>,
                     sets: &mut Vec<SampleSet>| {
        for (mode, m) in [(Mode::Cold, &t.cold), (Mode::Hot, &t.hot)] {
            if let Some(m) = m {
                if let Some(tm) = timing_of(mode, m, &work, &peaks) {
                    into_results.push((mode, tm));
                }
                sets.push(SampleSet {
                    name: name.to_string(),
                    kind,
                    mode,
                    launches_per_sample: m.launches,
                    samples_us: m.samples_us.clone(),
                    gpu: m.gpu.clone(),
                });
            }
        }
    };

    for k in &loaded {
        let name = k.manifest.name.clone();
        let cfg_name = cfg.name.clone();
        let enqueue: Enqueue =
            Box::new(move |s: &Arc<CudaStream>| Ok(k.enqueue_on(s, p, &args, &cfg_name)?));
        let t = check_and_time(
            &name, &enqueue, &mut timer, &bufs, &judge, &cfg, &modes, &progress,
        )?;
        if !t.correct {
            wrong.push(name.clone());
        }
        let mut timings = Vec::new();
        push_sets(&name, SetKind::Kernel, &t, &mut timings, &mut sets);
        let launch = k.launch_for(p);
        if !launch.is_default() || cli.launch.is_some() {
            let why = match &cli.launch {
                Some(_) => format!(
                    "forced with --launch (its manifest chooses `{}` for this problem)",
                    k.manifest.launch_for(p, k.arch).name
                ),
                None => "its manifest's choice for this problem".to_string(),
            };
            notes.push(format!(
                "{name}: timed launch `{}` (entry {}, block_m {}, {} threads, {} B dynamic shared), {why}",
                launch.name, launch.entry, launch.block_m, launch.threads, launch.shared_bytes
            ));
        }
        results.extend(timings.into_iter().map(|(_, timing)| KernelResult {
            kernel: name.clone(),
            launch: Some(launch.clone()),
            timing,
        }));
        correctness.extend(t.checks);
        notes.extend(t.notes);
    }

    // cuBLAS baseline.
    if cli.no_cublas || !cfg.bench.cublas_baseline {
        notes.push("cuBLAS baseline skipped (--no-cublas or bench.cublas_baseline = false)".into());
    } else if let Err(e) = &cublas {
        notes.push(format!("cuBLAS baseline skipped: {e}"));
    } else if CublasAttention::scratch_bytes(p) > info.total_mem_bytes / 4 {
        notes.push(format!(
            "cuBLAS baseline skipped: its S x S scratch needs {} MiB",
            CublasAttention::scratch_bytes(p) >> 20
        ));
    } else {
        progress.set("building the cuBLAS baseline's softmax kernel");
        let made = build_helper(
            &tc,
            &info.arch.to_string(),
            "softmax_rows",
            "cu",
            include_str!("../../softmax_rows.cu"),
        )
        .and_then(|(_, cubin)| {
            Ok(CublasAttention::new(
                &gpu,
                &stream,
                cubin,
                "softmax_rows",
                p,
            )?)
        });
        match made {
            Ok(cb) => {
                let name = "cublas_unfused".to_string();
                let enqueue: Enqueue = Box::new(|s: &Arc<CudaStream>| Ok(cb.enqueue(s, &args)?));
                let t = check_and_time(
                    &name, &enqueue, &mut timer, &bufs, &judge, &cfg, &modes, &progress,
                )?;
                if !t.correct {
                    notes.push("cuBLAS baseline gave a wrong output: not used".into());
                } else {
                    let mut timings = Vec::new();
                    push_sets(&name, SetKind::Baseline, &t, &mut timings, &mut sets);
                    baselines.extend(timings.into_iter().map(|(_, timing)| BaselineResult {
                        name: name.clone(),
                        timing,
                    }));
                }
                correctness.extend(t.checks);
                notes.extend(t.notes);
            }
            Err(e) => notes.push(format!("cuBLAS baseline skipped: {e:#}")),
        }
    }

    // PyTorch SDPA baselines, after our own timings (same GPU, same run).
    if cli.no_torch || !cfg.bench.torch_baselines {
        notes.push(
            "PyTorch SDPA baselines skipped (--no-torch or bench.torch_baselines = false)".into(),
        );
    } else {
        progress.set("timing PyTorch SDPA baselines");
        let mode_arg = modes
            .iter()
            .map(Mode::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let method = crate::sdpa::Method {
            l2_bytes: info.l2_bytes,
            modes: &mode_arg,
            l2_flush: &flush_method.to_string(),
            spin_cycles: crate::timing::SPIN_CYCLES,
            code_flush: code_flush_cubin
                .as_deref()
                .map(|p| (p, CodeFlush::grid(info.sm_count), CODE_FLUSH_THREADS)),
        };
        // The script reports each set's sampling window; the polls taken meanwhile (this
        // process's sampler) are attributed to the windows.
        let script = sdpa_script(cli);
        let (outcome, polls) = gpu_telemetry::record_with(timer.sampler.as_ref(), || {
            crate::sdpa::run(&cli.python, &script, &cfg, scale, &method)
        });
        match outcome {
            Ok(o) => {
                notes.push(format!("PyTorch {} on {}", o.torch, o.device));
                for u in o.unavailable {
                    notes.push(format!("{}: {}", u.name, u.reason));
                }
                for b in o.baselines {
                    if b.mode == modes[0] {
                        correctness.push(Correctness {
                            kernel: b.name.clone(),
                            when: "before (script: max abs err against torch's math backend in fp32, limit 2e-2)".into(),
                            passed: true,
                            max_abs_err: b.max_abs_err,
                            bound: 2e-2,
                            heads: Vec::new(),
                            reason: None,
                        });
                    }
                    let m = Measured {
                        samples_us: b.samples_us,
                        stop: b.stop_reason,
                        sampling_s: b.sampling_s,
                        launches: b.launches_per_sample,
                        method: if b.method == "graph" {
                            "graph"
                        } else if b.method == "events" {
                            "events"
                        } else {
                            "back_to_back"
                        },
                        gpu: b.window_unix_s.and_then(|[from, to]| {
                            gpu_telemetry::summarize(&gpu_telemetry::within(&polls, from, to))
                        }),
                    };
                    if let Some(timing) = timing_of(b.mode, &m, &work, &peaks) {
                        baselines.push(BaselineResult {
                            name: b.name.clone(),
                            timing,
                        });
                    }
                    sets.push(SampleSet {
                        name: b.name,
                        kind: SetKind::Baseline,
                        mode: b.mode,
                        launches_per_sample: m.launches,
                        samples_us: m.samples_us,
                        gpu: m.gpu,
                    });
                }
            }
            Err(e) => notes.push(format!("PyTorch SDPA baselines not run: {e}")),
        }
    }
    progress.done();
    match clocks_now() {
        Ok(c) => clocks.after = Some(c),
        Err(e) => clocks.note = Some(e),
    }

    let speedups = record::speedups(&results, &baselines);
    let below: Vec<String> = results
        .iter()
        .filter(|r| r.timing.below_floor)
        .map(|r| {
            format!(
                "{}/{} ({:.2} us < floor {:.2} us)",
                r.kernel,
                r.timing.mode,
                r.timing.p50_us,
                r.timing.floor_us.unwrap_or(f64::NAN)
            )
        })
        .collect();
    for s in speedups.iter().filter(|s| s.suspect) {
        notes.push(format!(
            "{}/{}: {:.1}x faster than {}: suspect (more than {}x)",
            s.kernel,
            s.mode,
            s.speedup,
            s.baseline,
            bench::work::SUSPECT_SPEEDUP
        ));
    }
    let (verdict, reason) = if !wrong.is_empty() {
        (
            Verdict::Fail,
            format!("wrong output, no time reported: {}", wrong.join(", ")),
        )
    } else if !below.is_empty() {
        (
            Verdict::Error,
            format!(
                "faster than the bytes/FLOPs floor (suspect timer): {}",
                below.join(", ")
            ),
        )
    } else {
        let best = results
            .iter()
            .map(|r| {
                format!(
                    "{}/{} p50 {:.2} us",
                    r.kernel, r.timing.mode, r.timing.p50_us
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        (
            Verdict::Pass,
            format!("{} kernels timed and checked: {best}", loaded.len()),
        )
    };

    let dir = cli.common.gate_dir("bench", &cfg.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut h = header("bench", &cfg, started, started_at, verdict, reason.clone());
    cli_support::record_run(&mut h, &tc, &built, Some(&info));
    let samples_file = SamplesFile {
        schema_version: cudadent_evidence::SCHEMA_VERSION,
        tool: "bench".into(),
        config: cfg.name.clone(),
        device: Some(info.name.clone()),
        git_commit: h.git_commit.clone(),
        synthetic: false,
        note: None,
        sets,
    };
    let floors: Vec<(String, f64)> = modes
        .iter()
        .filter_map(|m| {
            bench::work::floor_us(&work, &peaks, *m == Mode::Cold).map(|f| (m.to_string(), f))
        })
        .collect();
    let svg = dir.join("samples.svg");
    let plot = match bench::render::write_svg(
        &svg,
        &format!("{} on {}", cfg.name, info.name),
        &samples_file.sets,
        &floors,
    ) {
        Ok(()) => Some("samples.svg".to_string()),
        Err(e) => {
            notes.push(format!("no plot: {e}"));
            None
        }
    };
    let summary = BenchSummary {
        header: h,
        problem: p.clone(),
        work,
        peaks,
        peak_method,
        l2_flush_bytes: timer.flush().bytes() as u64,
        l2_flush_method: timer.flush().method().to_string(),
        code_flush_bytes: timer.flush().code_flush_bytes(),
        launch_floor,
        loaded_arch: loaded.first().map(|k| k.arch.to_string()),
        forced_launch: cli.launch.clone(),
        settings: cfg.bench.clone(),
        hot_launches: cfg.bench.hot_launches,
        results,
        baselines,
        speedups,
        correctness,
        clocks,
        gpu_telemetry,
        notes,
        plot,
    };
    write_json_atomic(&dir.join("samples.json"), &samples_file).context("writing samples.json")?;
    write_json_atomic(&dir.join("summary.json"), &summary).context("writing summary.json")?;
    // CI outputs, after the summary: the job summary's table, then the JUnit report.
    let kernel_names: Vec<String> = loaded.iter().map(|k| k.manifest.name.clone()).collect();
    let ci_run = crate::ci::Run {
        config: &cfg.name,
        kernels: &kernel_names,
        modes: &modes,
        results: &summary.results,
        correctness: &summary.correctness,
        speedups: &summary.speedups,
    };
    cli_support::ci::append_step_summary(&crate::ci::markdown(
        &ci_run,
        verdict_word(verdict),
        &reason,
    ))?;
    if let Some(path) = &cli.common.junit {
        crate::ci::junit(&ci_run).write(path)?;
    }
    out.line(bench::render::run_table(&summary));
    let us = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2} us"));
    out.line(format!(
        "launch floor (an empty kernel, same method): cold {}, hot {}; L2 flush: {}{}",
        us(summary.launch_floor.cold_p50_us),
        us(summary.launch_floor.hot_p50_us),
        summary.l2_flush_method,
        match summary.code_flush_bytes {
            0 => String::new(),
            b => format!(" after a code flush ({} KiB per SM)", b / 1024),
        }
    ));
    for n in &summary.notes {
        out.line(format!("note: {n}"));
    }
    out.summary(&summary)?;
    out.line(format!(
        "bench {}: {} ({reason}) -> {}",
        cfg.name,
        verdict_word(verdict),
        dir.join("summary.json").display()
    ));
    Ok(match verdict {
        Verdict::Pass => exit::PASS,
        _ => exit::GATE_FAILED,
    })
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
    }
}
