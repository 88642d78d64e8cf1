//! `summarize` on real polls of the H100 (tests/fixtures/h100_hot_canon_6.csv: nvidia-smi's
//! CSV of the same NVML fields the sampler reads, two 1-second excerpts of the hot samples
//! at canon_6, fa_tc's and cuDNN's; how it was captured is in the file's header).

use gpu_telemetry::{summarize, Sample};

/// The fixture's polls by phase (`# phase NAME` lines).
fn phases() -> Vec<(String, Vec<Sample>)> {
    let text = include_str!("fixtures/h100_hot_canon_6.csv");
    let mut out: Vec<(String, Vec<Sample>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("# phase ") {
            out.push((name.trim().to_string(), Vec::new()));
            continue;
        }
        if line.starts_with('#') || line.starts_with("timestamp") || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |s: &str, unit: &str| s.trim_end_matches(unit).trim().parse::<f64>().unwrap();
        let sample = Sample {
            at_unix_s: 0.0,
            sm_mhz: Some(num(f[1], "MHz") as u32),
            power_w: Some(num(f[3], "W")),
            reasons: Some(u64::from_str_radix(f[5].trim_start_matches("0x"), 16).unwrap()),
            energy_mj: None,
        };
        out.last_mut().expect("a phase line first").1.push(sample);
    }
    out
}

#[test]
fn fa_tc_hot_ran_at_the_power_cap_and_cudnn_near_full_clock() {
    let p = phases();
    assert_eq!(p.len(), 2);
    let fa = summarize(&p[0].1).unwrap();
    let cu = summarize(&p[1].1).unwrap();
    assert_eq!((p[0].0.as_str(), fa.samples), ("fa_tc", 50));
    assert_eq!((p[1].0.as_str(), cu.samples), ("cudnn", 50));
    // fa_tc: every poll power-capped, the SM clock well under the 1980 MHz boost.
    assert_eq!(fa.power_limited, 1.0);
    assert_eq!(fa.reasons_seen, vec!["sw_power_cap"]);
    assert!(fa.sm_mhz_p50 < 1750, "{fa:?}");
    assert!(fa.power_w_mean.unwrap() > 680.0, "{fa:?}");
    // cuDNN: capped too, but at a clock near the boost.
    assert!(cu.power_limited > 0.5, "{cu:?}");
    assert!(cu.sm_mhz_p50 > 1850, "{cu:?}");
    assert!(cu.sm_mhz_p50 > fa.sm_mhz_p50 + 150);
}
