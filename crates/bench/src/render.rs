//! Renderings of a run and of a comparison: tables for the terminal and an SVG of the
//! sample distributions. One model ([`crate::record`]), several renderers.

use std::path::Path;

use plotters::prelude::*;
use tabled::{Table, Tabled};

use crate::compare::Report;
use crate::record::{BenchSummary, SampleSet, Timing};
use crate::stats::{quantile_sorted, sorted};

#[derive(Tabled)]
struct RunRow {
    name: String,
    mode: String,
    p50_us: String,
    p90_us: String,
    min_us: String,
    rel_iqr: String,
    n: usize,
    stop: String,
    tflops: String,
    gbs: String,
    peak: String,
    /// Median SM clock while sampling, and the share of polls held by the power limit.
    sm_clock: String,
    /// Board energy per launch (hot mode, from NVML's energy counter).
    energy: String,
    speedup: String,
}

/// `1650 MHz (power-capped 100%)`, `1980 MHz`, or `-` without telemetry.
pub fn gpu_cell(g: Option<&gpu_telemetry::GpuState>) -> String {
    g.map_or_else(|| "-".into(), gpu_telemetry::GpuState::clock_label)
}

fn run_row(name: &str, t: &Timing, speedup: String) -> RunRow {
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0}%", v * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    RunRow {
        name: name.to_string(),
        mode: t.mode.to_string(),
        p50_us: format!(
            "{:.2}{}",
            t.p50_us,
            if t.below_floor { " (<floor!)" } else { "" }
        ),
        p90_us: format!("{:.2}", t.p90_us),
        min_us: format!("{:.2}", t.min_us),
        rel_iqr: format!("{:.2}%", t.rel_iqr * 100.0),
        n: t.samples,
        stop: format!("{:?}", t.stop_reason).to_lowercase(),
        tflops: format!("{:.1}", t.tflops),
        gbs: format!("{:.0}", t.gbs),
        peak: format!(
            "{} flop / {} bw",
            pct(t.frac_peak_flops),
            pct(t.frac_peak_bandwidth)
        ),
        sm_clock: gpu_cell(t.gpu.as_ref()),
        energy: t
            .energy_mj_per_launch
            .map_or_else(|| "-".into(), |mj| format!("{mj:.1} mJ")),
        speedup,
    }
}

/// The run as a table: kernels first (with their speed-up over the fastest baseline of
/// the same mode), then baselines.
pub fn run_table(s: &BenchSummary) -> String {
    let mut rows = Vec::new();
    for r in &s.results {
        let sp = s
            .speedups
            .iter()
            .find(|x| x.kernel == r.kernel && x.mode == r.timing.mode)
            .map(|x| {
                format!(
                    "{:.2}x vs {}{}",
                    x.speedup,
                    x.baseline,
                    if x.suspect { " SUSPECT" } else { "" }
                )
            })
            .unwrap_or_else(|| "-".into());
        rows.push(run_row(&r.kernel, &r.timing, sp));
    }
    for b in &s.baselines {
        rows.push(run_row(
            &format!("[baseline] {}", b.name),
            &b.timing,
            "-".into(),
        ));
    }
    Table::new(rows)
        .with(tabled::settings::Style::sharp())
        .to_string()
}

#[derive(Tabled)]
struct CompareRow {
    name: String,
    mode: String,
    old_p50_us: String,
    new_p50_us: String,
    change: String,
    ci_95: String,
    p_value: String,
    call: String,
    /// The two runs' SM clocks where they differ (`bench::compare::clock_difference`).
    gpu: String,
    /// Board energy per launch, old -> new (hot sets with NVML's energy counter).
    energy_mj: String,
}

/// `old -> new` energy per launch (mJ, one decimal), `-` for a run without it.
fn energy_change(old: Option<f64>, new: Option<f64>) -> String {
    let mj = |e: Option<f64>| e.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    if old.is_none() && new.is_none() {
        return "-".into();
    }
    format!("{} -> {}", mj(old), mj(new))
}

/// A comparison as a table.
pub fn compare_table(r: &Report) -> String {
    let rows: Vec<CompareRow> = r
        .rows
        .iter()
        .map(|row| {
            let c = &row.change;
            CompareRow {
                name: row.name.clone(),
                mode: row.mode.clone(),
                old_p50_us: format!("{:.2}", c.old_p50_us),
                new_p50_us: format!("{:.2}", c.new_p50_us),
                change: format!("{:+.2}%", c.change * 100.0),
                ci_95: format!("[{:+.2}%, {:+.2}%]", c.ci_low * 100.0, c.ci_high * 100.0),
                p_value: format!("{:.3}", c.p_value),
                call: c.call.to_string(),
                gpu: row.clock_note.clone().unwrap_or_else(|| "-".into()),
                energy_mj: energy_change(row.old_energy_mj, row.new_energy_mj),
            }
        })
        .collect();
    Table::new(rows)
        .with(tabled::settings::Style::sharp())
        .to_string()
}

/// One box of the plot.
struct BoxStats {
    label: String,
    p10: f64,
    p25: f64,
    p50: f64,
    p75: f64,
    p90: f64,
    min: f64,
    max: f64,
}

/// Writes an SVG with one box per sample set (box p25-p75, median line, whiskers p10-p90,
/// min and max as ticks) on a log time axis, and the floor of each mode as a
/// horizontal line. Text is plain SVG `<text>`: no font files are read.
pub fn write_svg(
    path: &Path,
    title: &str,
    sets: &[SampleSet],
    floors: &[(String, f64)],
) -> Result<(), String> {
    let boxes: Vec<BoxStats> = sets
        .iter()
        .filter_map(|s| {
            let v = sorted(&s.samples_us);
            let q = |p| quantile_sorted(&v, p);
            Some(BoxStats {
                label: format!("{} ({})", s.name, s.mode),
                p10: q(0.10)?,
                p25: q(0.25)?,
                p50: q(0.5)?,
                p75: q(0.75)?,
                p90: q(0.90)?,
                min: *v.first()?,
                max: *v.last()?,
            })
        })
        .filter(|b| b.min > 0.0)
        .collect();
    if boxes.is_empty() {
        return Err("no positive samples to plot".into());
    }
    let lo = boxes
        .iter()
        .map(|b| b.min)
        .chain(floors.iter().map(|f| f.1))
        .fold(f64::INFINITY, f64::min)
        / 1.3;
    let hi = boxes.iter().map(|b| b.max).fold(0.0, f64::max) * 1.3;
    let width = 200 + 140 * boxes.len() as u32;
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    let e = |x: &dyn std::fmt::Display| x.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let n = boxes.len();
    let labels: Vec<String> = boxes.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo..hi).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc("time per launch (us, log)")
        .draw()
        .map_err(|x| e(&x))?;
    for (i, b) in boxes.iter().enumerate() {
        let x = i as f64;
        let w = 0.3;
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series([Rectangle::new(
                [(x - w, b.p25), (x + w, b.p75)],
                color.mix(0.35).filled(),
            )])
            .map_err(|x| e(&x))?;
        let lines = [
            vec![(x - w, b.p50), (x + w, b.p50)],
            vec![(x, b.p75), (x, b.p90)],
            vec![(x, b.p25), (x, b.p10)],
            vec![(x - w / 2.0, b.p90), (x + w / 2.0, b.p90)],
            vec![(x - w / 2.0, b.p10), (x + w / 2.0, b.p10)],
            vec![(x - w / 4.0, b.min), (x + w / 4.0, b.min)],
            vec![(x - w / 4.0, b.max), (x + w / 4.0, b.max)],
        ];
        chart
            .draw_series(
                lines
                    .into_iter()
                    .map(|l| PathElement::new(l, color.stroke_width(2))),
            )
            .map_err(|x| e(&x))?;
    }
    for (label, f) in floors {
        chart
            .draw_series([PathElement::new(
                vec![(-0.5, *f), (n as f64 - 0.5, *f)],
                RED.stroke_width(1),
            )])
            .map_err(|x| e(&x))?
            .label(format!("floor {label}: {f:.2} us"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    }
    if !floors.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Mode, SetKind};

    #[test]
    fn gpu_cell_names_the_clock_and_the_power_cap() {
        let g = |mhz, capped| gpu_telemetry::GpuState {
            samples: 10,
            sm_mhz_p50: mhz,
            power_limited: capped,
            ..Default::default()
        };
        assert_eq!(super::gpu_cell(None), "-");
        assert_eq!(super::gpu_cell(Some(&g(1980, 0.0))), "1980 MHz");
        assert_eq!(
            super::gpu_cell(Some(&g(1650, 1.0))),
            "1650 MHz (power-capped 100%)"
        );
    }

    #[test]
    fn svg_has_one_box_per_set_and_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plot.svg");
        let sets = vec![
            SampleSet {
                name: "fa_tc".into(),
                kind: SetKind::Kernel,
                mode: Mode::Cold,
                launches_per_sample: 1,
                samples_us: crate::synthetic::samples(1, 50, 20.0, 0.02),
                gpu: None,
            },
            SampleSet {
                name: "torch_sdpa_flash".into(),
                kind: SetKind::Baseline,
                mode: Mode::Cold,
                launches_per_sample: 1,
                samples_us: crate::synthetic::samples(2, 50, 25.0, 0.02),
                gpu: None,
            },
        ];
        write_svg(&p, "canon_3", &sets, &[("cold".into(), 1.19)]).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("fa_tc (cold)"));
        assert!(svg.contains("torch_sdpa_flash (cold)"));
        assert!(svg.contains("floor cold: 1.19 us"));
        assert!(write_svg(&p, "x", &[], &[]).is_err());
    }
}
