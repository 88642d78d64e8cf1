//! The record of one check, as it goes into `artifacts/oracle/<config>/summary.json`.
//!
//! DESIGN.md fixes these field names of each entry of `checks` (a contract: CI scripts
//! and release checklists read them; never rename them): `kernel`, `trial`, `seed`,
//! `distribution`, `max_abs_err`, `rel_l2_err`, `bound`, `passed`. The other fields are
//! additions. Infinite or NaN errors are written as the strings `"inf"` / `"nan"`
//! (JSON has no such numbers, and `null` would read as "not measured").

use serde::{Deserialize, Serialize};

use crate::guard::{CanaryReport, Unwritten};
use crate::metrics::{Element, ErrorReport};
use crate::rule::Verdict;
use crate::{Distribution, Shape};

/// One of the four buffers of an `attention_fwd_v1` launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Buffer {
    /// Queries (input).
    Q,
    /// Keys (input).
    K,
    /// Values (input).
    V,
    /// Output.
    O,
}

impl Buffer {
    /// `q`, `k`, `v` or `o`.
    pub fn name(&self) -> &'static str {
        match self {
            Buffer::Q => "q",
            Buffer::K => "k",
            Buffer::V => "v",
            Buffer::O => "o",
        }
    }
}

/// The canary check of one guarded buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferCanaries {
    /// Which buffer.
    pub buffer: Buffer,
    /// What happened to its guard bands.
    #[serde(flatten)]
    pub report: CanaryReport,
}

/// An input the kernel wrote into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputModified {
    /// Which input.
    pub buffer: Buffer,
    /// The first element that differs from the uploaded host copy.
    pub first_index: usize,
}

/// What identifies one check: which kernel, which trial, on which inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckId {
    /// The kernel's manifest name.
    pub kernel: String,
    /// The manifest launch that ran (`default` or a `[[launch_rule]]`'s name).
    pub launch: String,
    /// The trial number within the config (0-based).
    pub trial: u32,
    /// The seed the inputs were generated from.
    pub seed: u64,
    /// The distribution the inputs were drawn from.
    pub distribution: Distribution,
    /// The `softmax_scale` argument of the launch.
    pub scale: f32,
}

/// The host-side checks around one launch (poison, canaries, inputs, reruns).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GuardFindings {
    /// Output elements still holding the poison.
    pub unwritten: Unwritten,
    /// The canary check of each guarded buffer.
    pub canaries: Vec<BufferCanaries>,
    /// The inputs that changed during the launch.
    pub inputs_modified: Vec<InputModified>,
    /// Whether a rerun on the same inputs gave the same bits; `None` when not rerun.
    pub deterministic: Option<bool>,
    /// The first output index where a rerun differed.
    pub rerun_first_difference: Option<usize>,
}

impl GuardFindings {
    /// One clause per problem found, with positions as `(b,h,row,col)` in `shape`.
    pub fn reasons(&self, shape: &Shape) -> Vec<String> {
        let at = |i: usize| {
            let (b, h, row, col) = shape.coords(i);
            format!("(b{b},h{h},row{row},col{col})")
        };
        let mut reasons = Vec::new();
        if self.unwritten.count > 0 {
            let first = self
                .unwritten
                .first
                .map(|i| format!(", first at {}", at(i)))
                .unwrap_or_default();
            reasons.push(format!(
                "{} output elements never written (still the NaN poison){first}",
                self.unwritten.count
            ));
        }
        for c in self.canaries.iter().filter(|c| !c.report.clean()) {
            let first = c
                .report
                .first_changed_offset
                .map(|o| format!(" (lowest at offset {o} from the payload start)"))
                .unwrap_or_default();
            reasons.push(format!(
                "out-of-bounds write around {}: {} guard elements changed before the payload, \
                 {} after{first}",
                c.buffer.name(),
                c.report.before_changed,
                c.report.after_changed
            ));
        }
        for m in &self.inputs_modified {
            reasons.push(format!(
                "the kernel wrote into its input {} (first changed element {})",
                m.buffer.name(),
                at(m.first_index)
            ));
        }
        if self.deterministic == Some(false) {
            let first = self
                .rerun_first_difference
                .map(|i| format!(", first at {}", at(i)))
                .unwrap_or_default();
            reasons.push(format!(
                "a rerun on the same inputs gave different bits{first}"
            ));
        }
        reasons
    }
}

/// One check of one kernel on one set of inputs: an entry of `checks` in the oracle's
/// summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The kernel's manifest name (contract field).
    pub kernel: String,
    /// The manifest launch that ran: `default` or a `[[launch_rule]]`'s name (summaries
    /// written before launch rules existed have none: `default`).
    #[serde(default = "default_launch")]
    pub launch: String,
    /// The trial number within the config (contract field).
    pub trial: u32,
    /// The seed the inputs were generated from (contract field).
    pub seed: u64,
    /// The input distribution, e.g. `"large_magnitude"` (contract field).
    pub distribution: Distribution,
    /// The `softmax_scale` argument of the launch.
    pub scale: f32,
    /// The problem shape.
    pub shape: Shape,
    /// The kernel's max abs error against the fp64 reference (contract field).
    #[serde(with = "crate::serde_float")]
    pub max_abs_err: f64,
    /// The kernel's relative L2 error (contract field).
    #[serde(with = "crate::serde_float")]
    pub rel_l2_err: f64,
    /// The pass bound on `max_abs_err` (contract field).
    #[serde(with = "crate::serde_float")]
    pub bound: f64,
    /// Whether the check passed: the pass rule and every guard check (contract field).
    pub passed: bool,
    /// The fp16-order reference's max abs error, from which `bound` is derived.
    #[serde(with = "crate::serde_float")]
    pub fp16_order_max_abs_err: f64,
    /// The element with the largest error.
    pub worst: Option<Element>,
    /// Elements beyond `atol + rtol·|ref|`.
    pub mismatches: u64,
    /// `100 · mismatches / elements`.
    pub mismatch_pct: f64,
    /// Non-finite outputs where the reference is finite.
    pub non_finite: u64,
    /// Output elements still holding the poison.
    pub unwritten: Unwritten,
    /// The canary check of each guarded buffer.
    pub canaries: Vec<BufferCanaries>,
    /// Inputs the kernel wrote into.
    pub inputs_modified: Vec<InputModified>,
    /// Whether a rerun gave the same bits; `null` when not rerun.
    pub deterministic: Option<bool>,
    /// Why the check failed (every failed part, joined by "; "); `null` when it passed.
    pub reason: Option<String>,
}

fn default_launch() -> String {
    cudadent_config::DEFAULT_LAUNCH.to_string()
}

pub use cudadent_config::launch_label;

impl CheckRecord {
    /// The kernel and launch, as reports name them ([`launch_label`]).
    pub fn label(&self) -> String {
        launch_label(&self.kernel, &self.launch)
    }

    /// Assembles the record of one check. `passed` is true only if the pass rule passed
    /// and every guard check is clean; `reason` lists every failed part.
    pub fn new(
        id: CheckId,
        shape: &Shape,
        kernel: &ErrorReport,
        fp16_order: &ErrorReport,
        verdict: &Verdict,
        guards: GuardFindings,
    ) -> Self {
        let mut reasons: Vec<String> = verdict.reason.iter().cloned().collect();
        reasons.extend(guards.reasons(shape));
        let passed = verdict.passed && reasons.is_empty();
        CheckRecord {
            kernel: id.kernel,
            launch: id.launch,
            trial: id.trial,
            seed: id.seed,
            distribution: id.distribution,
            scale: id.scale,
            shape: *shape,
            max_abs_err: kernel.max_abs_err,
            rel_l2_err: kernel.rel_l2_err,
            bound: verdict.bound,
            passed,
            fp16_order_max_abs_err: fp16_order.max_abs_err,
            worst: kernel.worst,
            mismatches: kernel.mismatches,
            mismatch_pct: kernel.mismatch_pct,
            non_finite: kernel.non_finite,
            unwritten: guards.unwritten,
            canaries: guards.canaries,
            inputs_modified: guards.inputs_modified,
            deterministic: guards.deterministic,
            reason: (!passed).then(|| reasons.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare;
    use crate::rule::PassRule;

    fn fixture(guards: GuardFindings) -> CheckRecord {
        let shape = Shape::new(1, 1, 2, 2, false);
        let want = [0.5, 0.25, -0.5, 1.0];
        let got = [0.5f32, 0.25, -0.5, 1.0];
        let sp = [0.5f32, 0.25, -0.5, 1.001];
        let kernel = compare(&shape, &got, &want, 1e-2, 1e-2).unwrap();
        let fp16 = compare(&shape, &sp, &want, 1e-2, 1e-2).unwrap();
        let verdict = PassRule::default().evaluate(&kernel, &fp16);
        let id = CheckId {
            launch: "default".into(),
            kernel: "fa_tc".into(),
            trial: 3,
            seed: 99,
            distribution: Distribution::ALL[1],
            scale: 0.125,
        };
        CheckRecord::new(id, &shape, &kernel, &fp16, &verdict, guards)
    }

    #[test]
    fn contract_fields_are_present_with_their_names() {
        let json = serde_json::to_value(fixture(GuardFindings::default())).unwrap();
        for key in [
            "kernel",
            "trial",
            "seed",
            "distribution",
            "max_abs_err",
            "rel_l2_err",
            "bound",
            "passed",
            "scale",
            "worst",
            "mismatches",
            "mismatch_pct",
            "unwritten",
            "canaries",
            "inputs_modified",
            "deterministic",
            "reason",
        ] {
            assert!(json.get(key).is_some(), "missing {key}: {json}");
        }
        assert_eq!(json["kernel"], "fa_tc");
        assert_eq!(json["distribution"], "large_magnitude");
        assert_eq!(json["passed"], true);
        assert_eq!(json["reason"], serde_json::Value::Null);
        assert_eq!(json["max_abs_err"], 0.0);
        let back: CheckRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, fixture(GuardFindings::default()));
    }

    #[test]
    fn guard_findings_fail_the_check_and_explain_why() {
        let guards = GuardFindings {
            unwritten: Unwritten {
                count: 2,
                first: Some(2),
            },
            canaries: vec![
                BufferCanaries {
                    buffer: Buffer::Q,
                    report: CanaryReport::default(),
                },
                BufferCanaries {
                    buffer: Buffer::O,
                    report: CanaryReport {
                        before_changed: 0,
                        after_changed: 1,
                        first_changed_offset: Some(4),
                    },
                },
            ],
            inputs_modified: vec![InputModified {
                buffer: Buffer::K,
                first_index: 1,
            }],
            deterministic: Some(false),
            rerun_first_difference: Some(3),
        };
        let record = fixture(guards);
        assert!(!record.passed);
        assert_eq!(
            record.reason.as_deref().unwrap(),
            "2 output elements never written (still the NaN poison), first at (b0,h0,row1,col0); \
             out-of-bounds write around o: 0 guard elements changed before the payload, 1 after \
             (lowest at offset 4 from the payload start); \
             the kernel wrote into its input k (first changed element (b0,h0,row0,col1)); \
             a rerun on the same inputs gave different bits, first at (b0,h0,row1,col1)"
        );
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["canaries"][1]["buffer"], "o");
        assert_eq!(json["canaries"][1]["after_changed"], 1);
        assert_eq!(json["inputs_modified"][0]["buffer"], "k");
        assert_eq!(json["deterministic"], false);
    }
}
