//! `summarize` on real polls of the H100 (tests/fixtures/h100_hot_canon_6.csv: nvidia-smi's
//! CSV of the same NVML fields the sampler reads, two 1-second excerpts of the hot samples
//! at canon_6, fa_tc's and cuDNN's; tests/fixtures/h100_energy_counter.csv: the energy
//! counter, power reading and SM clock through an idle / busy / idle sequence; how each was
//! captured is in the file's header).

use gpu_telemetry::{energy_power_w, summarize, Sample};

/// The energy fixture's polls by phase (`idle`, `busy`, `idle_after`), in time order.
fn energy_phases() -> Vec<(String, Vec<Sample>)> {
    let text = include_str!("fixtures/h100_energy_counter.csv");
    let mut out: Vec<(String, Vec<Sample>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("phase,") || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let sample = Sample {
            at_unix_s: f[1].parse().unwrap(),
            sm_mhz: f[4].parse().ok(),
            power_w: f[3].parse::<f64>().ok().map(|mw| mw / 1000.0),
            reasons: None,
            energy_mj: f[2].parse().ok(),
        };
        match out.last_mut() {
            Some((name, xs)) if name == f[0] => xs.push(sample),
            _ => out.push((f[0].to_string(), vec![sample])),
        }
    }
    out
}

#[test]
fn the_energy_counter_sees_the_load_the_power_reading_lags_behind() {
    let p = energy_phases();
    let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["idle", "busy", "idle_after"]);
    // The counter steps about every 100 ms: five 20 ms polls per step.
    let all: Vec<Sample> = p.iter().flat_map(|(_, xs)| xs.iter().copied()).collect();
    let steps = all
        .windows(2)
        .filter(|w| w[1].energy_mj != w[0].energy_mj)
        .count();
    assert!(
        (20..=30).contains(&steps),
        "{steps} steps in {} polls",
        all.len()
    );
    let idle = summarize(&p[0].1).unwrap();
    let busy = summarize(&p[1].1).unwrap();
    let after = summarize(&p[2].1).unwrap();
    let (pi, pb, pa) = (
        idle.power_w_from_energy.unwrap(),
        busy.power_w_from_energy.unwrap(),
        after.power_w_from_energy.unwrap(),
    );
    // Idle boards draw about a hundred watts; matmuls near the 700 W limit.
    assert!(pi < 200.0 && pa < 200.0, "{pi} {pa}");
    assert!((550.0..800.0).contains(&pb), "{pb}");
    // NVML's power reading is an average over about a second: it is still climbing through
    // the busy phase and still high after it, where the counter is not.
    let (ri, rb, ra) = (
        idle.power_w_mean.unwrap(),
        busy.power_w_mean.unwrap(),
        after.power_w_mean.unwrap(),
    );
    assert!(rb < pb - 100.0, "reading {rb} against counter {pb}");
    assert!(ra > pa + 200.0, "reading {ra} against counter {pa}");
    assert!(ri < 200.0);
    // The same estimate straight from the polls.
    assert_eq!(energy_power_w(&p[1].1), Some(pb));
}

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
