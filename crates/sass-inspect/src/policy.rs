//! Policies over what was measured: tensor cores required, f32 accumulation, register,
//! spill, local-memory and shared-memory limits.
//!
//! [`check`] returns one [`Violation`] per broken rule; each message names the rule (the
//! policy key) and the measured value. Naming the kernel and arch is the caller's job.
//! A value the rule needs but that was not measured (a ptxas report without a `Used` line)
//! is a violation too: what was not seen did not pass.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ptxas::ResourceUsage;
use crate::sass::Census;

/// What a kernel must satisfy. The default checks nothing but spills and local memory
/// (`max_spill_bytes = 0`, `allow_local_memory = false`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// At least one tensor-core instruction in SASS.
    pub require_tensor_cores: bool,
    /// Tensor-core instructions accumulate in f32: at least one does, and none in f16.
    /// Says nothing about a kernel without tensor-core instructions (pair it with
    /// `require_tensor_cores`).
    pub require_f32_accumulate: bool,
    /// Registers per thread at most this.
    pub max_registers: Option<u32>,
    /// Spill stores, and spill loads, each at most this many bytes.
    pub max_spill_bytes: u32,
    /// Whether SASS may contain local-memory instructions (`LDL`/`STL`).
    pub allow_local_memory: bool,
    /// Shared memory per block (static + dynamic) at most this many bytes.
    pub max_shared_bytes: Option<u32>,
}

/// What was measured for one kernel on one arch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// Registers per thread (ptxas), `None` where not reported.
    pub registers: Option<u32>,
    /// Bytes of spill stores (ptxas), `None` where not reported.
    pub spill_stores_bytes: Option<u32>,
    /// Bytes of spill loads (ptxas), `None` where not reported.
    pub spill_loads_bytes: Option<u32>,
    /// `LDL` + `STL` instructions in SASS.
    pub local_memory_instructions: u64,
    /// Shared memory per block: static (ptxas) plus the dynamic amount the launch asks for;
    /// `None` where the static amount was not reported.
    pub shared_bytes: Option<u64>,
    /// Tensor-core instructions in SASS.
    pub tensor_core_instructions: u64,
    /// Of those, how many accumulate in f32.
    pub tensor_core_f32_accumulate: u64,
    /// Of those, how many accumulate in f16.
    pub tensor_core_f16_accumulate: u64,
}

impl Measured {
    /// Gathers the measurements of one function: its ptxas usage, the census of its SASS,
    /// and the dynamic shared memory its launch requests.
    pub fn new(usage: &ResourceUsage, census: &Census, dynamic_shared_bytes: u64) -> Self {
        Measured {
            registers: usage.registers,
            spill_stores_bytes: usage.spill_stores_bytes,
            spill_loads_bytes: usage.spill_loads_bytes,
            local_memory_instructions: census.local_memory(),
            shared_bytes: usage
                .shared_bytes
                .map(|s| u64::from(s).saturating_add(dynamic_shared_bytes)),
            tensor_core_instructions: census.tensor_core.total,
            tensor_core_f32_accumulate: census.tensor_core.f32_accumulate,
            tensor_core_f16_accumulate: census.tensor_core.f16_accumulate,
        }
    }
}

/// A policy rule; its name is the [`Policy`] field that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `require_tensor_cores`.
    RequireTensorCores,
    /// `require_f32_accumulate`.
    RequireF32Accumulate,
    /// `max_registers`.
    MaxRegisters,
    /// `max_spill_bytes`.
    MaxSpillBytes,
    /// `allow_local_memory`.
    AllowLocalMemory,
    /// `max_shared_bytes`.
    MaxSharedBytes,
}

impl Rule {
    /// The policy key: `max_registers`, ...
    pub fn name(self) -> &'static str {
        match self {
            Rule::RequireTensorCores => "require_tensor_cores",
            Rule::RequireF32Accumulate => "require_f32_accumulate",
            Rule::MaxRegisters => "max_registers",
            Rule::MaxSpillBytes => "max_spill_bytes",
            Rule::AllowLocalMemory => "allow_local_memory",
            Rule::MaxSharedBytes => "max_shared_bytes",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The bound a measured value had to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// `measured <= n`.
    AtMost(u64),
    /// `measured >= n`.
    AtLeast(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::AtMost(n) => write!(f, "at most {n} allowed"),
            Limit::AtLeast(n) => write!(f, "at least {n} required"),
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The measured value; `None` where it was not measured.
    pub measured: Option<u64>,
    /// The bound it had to meet.
    pub limit: Limit,
    /// One line naming the rule, the measured value and the limit.
    pub message: String,
}

fn violation(rule: Rule, measured: Option<u64>, limit: Limit, what: &str) -> Violation {
    let message = match measured {
        Some(m) => format!("{rule}: {m} {what}, {limit}"),
        None => format!("{rule}: {what} not measured, {limit}"),
    };
    Violation {
        rule,
        measured,
        limit,
        message,
    }
}

/// Checks `measured` against `policy`: one [`Violation`] per broken rule, in the order of
/// the policy's fields; empty when it passes.
pub fn check(policy: &Policy, measured: &Measured) -> Vec<Violation> {
    let mut out = Vec::new();
    if policy.require_tensor_cores && measured.tensor_core_instructions == 0 {
        out.push(violation(
            Rule::RequireTensorCores,
            Some(0),
            Limit::AtLeast(1),
            "tensor-core instructions (HMMA/HGMMA/IMMA/QGMMA...) in SASS",
        ));
    }
    if policy.require_f32_accumulate && measured.tensor_core_instructions > 0 {
        if measured.tensor_core_f32_accumulate == 0 {
            out.push(violation(
                Rule::RequireF32Accumulate,
                Some(0),
                Limit::AtLeast(1),
                &format!(
                    "of {} tensor-core instructions accumulate in f32",
                    measured.tensor_core_instructions
                ),
            ));
        }
        if measured.tensor_core_f16_accumulate > 0 {
            out.push(violation(
                Rule::RequireF32Accumulate,
                Some(measured.tensor_core_f16_accumulate),
                Limit::AtMost(0),
                "tensor-core instructions accumulate in f16",
            ));
        }
    }
    if let Some(max) = policy.max_registers {
        let m = measured.registers.map(u64::from);
        if m.is_none_or(|m| m > u64::from(max)) {
            out.push(violation(
                Rule::MaxRegisters,
                m,
                Limit::AtMost(max.into()),
                "registers per thread",
            ));
        }
    }
    let max_spill = u64::from(policy.max_spill_bytes);
    for (what, bytes) in [
        ("bytes of spill stores", measured.spill_stores_bytes),
        ("bytes of spill loads", measured.spill_loads_bytes),
    ] {
        let m = bytes.map(u64::from);
        if m.is_none_or(|m| m > max_spill) {
            out.push(violation(
                Rule::MaxSpillBytes,
                m,
                Limit::AtMost(max_spill),
                what,
            ));
        }
    }
    if !policy.allow_local_memory && measured.local_memory_instructions > 0 {
        out.push(violation(
            Rule::AllowLocalMemory,
            Some(measured.local_memory_instructions),
            Limit::AtMost(0),
            "local-memory instructions (LDL/STL) in SASS",
        ));
    }
    if let Some(max) = policy.max_shared_bytes {
        let m = measured.shared_bytes;
        if m.is_none_or(|m| m > u64::from(max)) {
            out.push(violation(
                Rule::MaxSharedBytes,
                m,
                Limit::AtMost(max.into()),
                "bytes of shared memory per block (static + dynamic)",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> Measured {
        Measured {
            registers: Some(96),
            spill_stores_bytes: Some(0),
            spill_loads_bytes: Some(0),
            local_memory_instructions: 0,
            shared_bytes: Some(32768),
            tensor_core_instructions: 64,
            tensor_core_f32_accumulate: 64,
            tensor_core_f16_accumulate: 0,
        }
    }

    fn strict() -> Policy {
        Policy {
            require_tensor_cores: true,
            require_f32_accumulate: true,
            max_registers: Some(128),
            max_shared_bytes: Some(49152),
            ..Policy::default()
        }
    }

    #[test]
    fn a_clean_kernel_passes() {
        assert_eq!(check(&strict(), &clean()), []);
    }

    #[test]
    fn default_policy_only_forbids_spills_and_local_memory() {
        let m = Measured {
            registers: Some(255),
            tensor_core_instructions: 0,
            ..clean()
        };
        assert_eq!(check(&Policy::default(), &m), []);
        let m = Measured {
            local_memory_instructions: 3,
            ..clean()
        };
        assert_eq!(
            check(&Policy::default(), &m)[0].rule,
            Rule::AllowLocalMemory
        );
    }

    #[test]
    fn each_rule_names_itself_and_the_measured_value() {
        let cases: Vec<(Measured, Rule, Option<u64>, Limit, &str)> = vec![
            (
                Measured { tensor_core_instructions: 0, tensor_core_f32_accumulate: 0, ..clean() },
                Rule::RequireTensorCores,
                Some(0),
                Limit::AtLeast(1),
                "require_tensor_cores: 0 tensor-core instructions (HMMA/HGMMA/IMMA/QGMMA...) in SASS, at least 1 required",
            ),
            (
                Measured { tensor_core_f32_accumulate: 60, tensor_core_f16_accumulate: 4, ..clean() },
                Rule::RequireF32Accumulate,
                Some(4),
                Limit::AtMost(0),
                "require_f32_accumulate: 4 tensor-core instructions accumulate in f16, at most 0 allowed",
            ),
            (
                Measured { registers: Some(168), ..clean() },
                Rule::MaxRegisters,
                Some(168),
                Limit::AtMost(128),
                "max_registers: 168 registers per thread, at most 128 allowed",
            ),
            (
                Measured { registers: None, ..clean() },
                Rule::MaxRegisters,
                None,
                Limit::AtMost(128),
                "max_registers: registers per thread not measured, at most 128 allowed",
            ),
            (
                Measured { spill_loads_bytes: Some(80), ..clean() },
                Rule::MaxSpillBytes,
                Some(80),
                Limit::AtMost(0),
                "max_spill_bytes: 80 bytes of spill loads, at most 0 allowed",
            ),
            (
                Measured { local_memory_instructions: 41, ..clean() },
                Rule::AllowLocalMemory,
                Some(41),
                Limit::AtMost(0),
                "allow_local_memory: 41 local-memory instructions (LDL/STL) in SASS, at most 0 allowed",
            ),
            (
                Measured { shared_bytes: Some(65536), ..clean() },
                Rule::MaxSharedBytes,
                Some(65536),
                Limit::AtMost(49152),
                "max_shared_bytes: 65536 bytes of shared memory per block (static + dynamic), at most 49152 allowed",
            ),
        ];
        for (m, rule, measured, limit, message) in cases {
            let v = check(&strict(), &m);
            assert_eq!(v.len(), 1, "{v:?}");
            assert_eq!(
                v[0],
                Violation {
                    rule,
                    measured,
                    limit,
                    message: message.into()
                }
            );
        }
    }

    #[test]
    fn f32_rule_fires_when_no_instruction_accumulates_in_f32() {
        let m = Measured {
            tensor_core_f32_accumulate: 0,
            tensor_core_f16_accumulate: 64,
            ..clean()
        };
        let v = check(&strict(), &m);
        assert_eq!(
            v.iter().map(|v| v.rule).collect::<Vec<_>>(),
            [Rule::RequireF32Accumulate; 2]
        );
        assert_eq!(
            v[0].message,
            "require_f32_accumulate: 0 of 64 tensor-core instructions accumulate in f32, at least 1 required"
        );
    }

    #[test]
    fn unmeasured_spills_fail() {
        let m = Measured {
            spill_stores_bytes: None,
            spill_loads_bytes: None,
            ..clean()
        };
        let v = check(&Policy::default(), &m);
        assert_eq!(v.len(), 2);
        assert!(v
            .iter()
            .all(|v| v.rule == Rule::MaxSpillBytes && v.measured.is_none()));
    }

    #[test]
    fn policy_reads_from_json_and_rejects_unknown_keys() {
        let p: Policy =
            serde_json::from_str(r#"{"require_tensor_cores": true, "max_registers": 128}"#)
                .unwrap();
        assert_eq!(
            p,
            Policy {
                require_tensor_cores: true,
                max_registers: Some(128),
                ..Policy::default()
            }
        );
        let e = serde_json::from_str::<Policy>(r#"{"max_register": 128}"#).unwrap_err();
        assert!(
            e.to_string().contains("unknown field `max_register`"),
            "{e}"
        );
    }
}
