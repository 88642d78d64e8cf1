//! Timing on the GPU with CUDA events: cold samples (L2 flushed through a buffer of at
//! least twice the L2 before each sample, by reading it or by a memset: [`L2Flush`]; the
//! start event is recorded after the flush, so the flush is not timed) and hot samples (a
//! CUDA graph of N launches, or N launches back to back when a graph cannot be captured;
//! per-launch time = sample / N). Before every cold sample a one-thread spin kernel holds
//! the GPU ([`SPIN_CYCLES`]) while the host enqueues the rest, so no host launch cost is
//! timed. Hot samples go without: a graph launch's host cost is spread over N launches, and
//! 100 us with all but one SM idle measurably slowed the first launches after it (H100:
//! fa_tc at canon_3 7.40 -> 7.65 us per launch, same run length).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use bench::{Sampler, StopReason, StopRule};
use cudarc::driver::sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode};
use cudarc::driver::{CudaEvent, CudaStream};
use kernel_runtime::device::timing::{HelperKernels, L2Flush};

/// Work to time: enqueues one launch on the stream (may be captured into a graph).
pub type Work<'a> = &'a dyn Fn(&Arc<CudaStream>) -> anyhow::Result<()>;
/// Done before every sample, untimed (re-poisoning the output).
pub type Before<'a> = &'a mut dyn FnMut(&Arc<CudaStream>) -> anyhow::Result<()>;

/// Raw samples of one mode.
pub struct Measured {
    /// Per-launch times, us.
    pub samples_us: Vec<f64>,
    /// Why sampling stopped.
    pub stop: StopReason,
    /// Wall time spent sampling.
    pub sampling_s: f64,
    /// Launches per sample.
    pub launches: u32,
    /// `events`, `graph` or `back_to_back`.
    pub method: &'static str,
    /// The GPU's state while the samples were taken, where NVML answered.
    pub gpu: Option<gpu_telemetry::GpuState>,
}

/// SM clocks the spin kernel holds the GPU for before every cold sample: at least 100 us at any
/// clock up to 2 GHz (the H100 runs at most 1.98 GHz), long enough for the host to enqueue
/// the flush, both events and the work (PyTorch's cuDNN path takes tens of microseconds of
/// host time per call), so that no host launch cost lands between the events.
pub const SPIN_CYCLES: i64 = 200_000;

/// Events, the flush buffer and the stream everything is timed on.
pub struct Timer {
    pub stream: Arc<CudaStream>,
    flush: L2Flush,
    helpers: Arc<HelperKernels>,
    start: CudaEvent,
    end: CudaEvent,
    /// Polls the GPU's clock and power while samples are taken (None: NVML unavailable).
    pub sampler: Option<gpu_telemetry::Sampler>,
}

/// A driver error as an anyhow error naming the operation.
pub fn drv(op: &'static str) -> impl FnOnce(cudarc::driver::DriverError) -> anyhow::Error {
    move |e| anyhow::anyhow!("CUDA driver: {op} failed: {e}")
}

/// A (start, end) pair of timing events in the context of `stream`.
fn event_pair(stream: &CudaStream) -> anyhow::Result<(CudaEvent, CudaEvent)> {
    let ctx = stream.context();
    let event = || {
        ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(drv("create event"))
    };
    Ok((event()?, event()?))
}

/// The shortest of `runs` event-timed runs of `work` on `stream`, in seconds (the peak
/// probes: a device-to-device copy, a cuBLAS GEMM).
pub fn best_of(
    stream: &Arc<CudaStream>,
    runs: u32,
    mut work: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let (start, end) = event_pair(stream)?;
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        start.record(stream).map_err(drv("record event"))?;
        work()?;
        end.record(stream).map_err(drv("record event"))?;
        best = best.min(start.elapsed_ms(&end).map_err(drv("elapsed"))? as f64 * 1e-3);
    }
    Ok(best)
}

impl Timer {
    /// A timer on `stream` that, before every cold sample, holds the GPU with `helpers`'
    /// spin kernel ([`SPIN_CYCLES`]) and flushes L2 with `flush`.
    pub fn new(
        stream: Arc<CudaStream>,
        flush: L2Flush,
        helpers: Arc<HelperKernels>,
    ) -> anyhow::Result<Self> {
        let (start, end) = event_pair(&stream)?;
        Ok(Timer {
            stream,
            flush,
            helpers,
            start,
            end,
            sampler: None,
        })
    }

    /// The L2 flush of cold samples.
    pub fn flush(&self) -> &L2Flush {
        &self.flush
    }

    fn timed(&self, work: &dyn Fn(&Arc<CudaStream>) -> anyhow::Result<()>) -> anyhow::Result<f64> {
        self.start
            .record(&self.stream)
            .map_err(drv("record start event"))?;
        work(&self.stream)?;
        self.end
            .record(&self.stream)
            .map_err(drv("record end event"))?;
        let ms = self
            .start
            .elapsed_ms(&self.end)
            .map_err(drv("synchronise on the end event"))?;
        Ok(ms as f64 * 1000.0)
    }

    /// Times `work` once per sample with L2 flushed before each.
    pub fn cold(
        &mut self,
        rule: &StopRule,
        warmup: u32,
        before: Before,
        work: Work,
    ) -> anyhow::Result<Measured> {
        self.warm_up(warmup, work)?;
        let (r, gpu) = self.sample_observed(rule, |t| {
            before(&t.stream)?;
            t.helpers.enqueue_spin(&t.stream, SPIN_CYCLES)?;
            t.flush.enqueue(&t.stream)?;
            t.timed(work)
        });
        let (samples_us, stop, sampling_s) = r?;
        Ok(Measured {
            samples_us,
            stop,
            sampling_s,
            launches: 1,
            method: "events",
            gpu,
        })
    }

    /// Times `n` launches per sample: captured into a CUDA graph, or back to back when
    /// capture fails (the reason is returned beside the samples).
    pub fn hot(
        &mut self,
        rule: &StopRule,
        warmup: u32,
        n: u32,
        before: Before,
        work: Work,
    ) -> anyhow::Result<(Measured, Option<String>)> {
        let n = n.max(1);
        let mut fallback = None;
        let graph = match self.capture(n, work) {
            Ok(g) => Some(g),
            Err(e) => {
                fallback = Some(format!("{e:#}"));
                None
            }
        };
        let many = |s: &Arc<CudaStream>| -> anyhow::Result<()> {
            match &graph {
                Some(g) => g.launch().map_err(drv("launch CUDA graph")),
                None => (0..n).try_for_each(|_| work(s)),
            }
        };
        if let Some(g) = &graph {
            g.upload().map_err(drv("upload CUDA graph"))?;
        }
        self.warm_up(warmup.div_ceil(n).max(1), &many)?;
        let (r, gpu) = self.sample_observed(rule, |t| {
            before(&t.stream)?;
            Ok(t.timed(&many)? / n as f64)
        });
        let (samples_us, stop, sampling_s) = r?;
        Ok((
            Measured {
                samples_us,
                stop,
                sampling_s,
                launches: n,
                method: if graph.is_some() {
                    "graph"
                } else {
                    "back_to_back"
                },
                gpu,
            },
            fallback,
        ))
    }

    /// [`sample`] with the sampler, if any, polling meanwhile: the samples and the GPU's
    /// state while they were taken.
    fn sample_observed(
        &mut self,
        rule: &StopRule,
        mut one: impl FnMut(&mut Self) -> anyhow::Result<f64>,
    ) -> (anyhow::Result<Sampled>, Option<gpu_telemetry::GpuState>) {
        // The sampler leaves self while `one` borrows the rest of it.
        let sampler = self.sampler.take();
        let (r, polls) =
            gpu_telemetry::record_with(sampler.as_ref(), || sample(rule, || one(self)));
        self.sampler = sampler;
        (r, gpu_telemetry::summarize(&polls))
    }

    /// `runs` untimed runs of `work`, then a wait for them.
    fn warm_up(&self, runs: u32, work: Work) -> anyhow::Result<()> {
        for _ in 0..runs {
            work(&self.stream)?;
        }
        self.stream
            .synchronize()
            .map_err(drv("synchronise after warm-up"))
    }

    fn capture(&self, n: u32, work: Work) -> anyhow::Result<cudarc::driver::CudaGraph> {
        self.stream
            .synchronize()
            .map_err(drv("synchronise before capture"))?;
        self.stream
            .begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(drv("begin graph capture"))?;
        let captured = (0..n).try_for_each(|_| work(&self.stream));
        let ended = self.stream.end_capture(CUgraphInstantiate_flags(0));
        captured.context("enqueueing launches during graph capture")?;
        ended
            .map_err(drv("end graph capture"))?
            .ok_or_else(|| anyhow::anyhow!("graph capture produced no graph"))
    }
}

/// What [`sample`] returns: the samples (us), why sampling stopped, the wall time spent (s).
type Sampled = (Vec<f64>, StopReason, f64);

/// Takes samples (`one` enqueues and times one, in us) until `rule` stops: the samples, why
/// it stopped and the wall time spent.
fn sample(
    rule: &StopRule,
    mut one: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<Sampled> {
    let mut sampler = Sampler::new(*rule);
    let t0 = Instant::now();
    let stop = loop {
        let us = one()?;
        if let Some(r) = sampler.push(us, t0.elapsed().as_secs_f64()) {
            break r;
        }
    };
    Ok((sampler.into_samples(), stop, t0.elapsed().as_secs_f64()))
}
