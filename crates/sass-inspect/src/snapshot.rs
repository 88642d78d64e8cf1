//! Comparison of inspection records against a committed snapshot: which fields moved, and
//! which moves are regressions beyond the allowances.
//!
//! Registers, spills, shared memory and local-memory instructions regress when they grow;
//! tensor-core instructions regress when they shrink. A record (kernel, arch) that was in
//! the snapshot and is missing now is reported as removed and fails the comparison: lost
//! coverage is not a pass. New records are reported as added.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What was measured for one kernel on one arch, as kept in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectionRecord {
    /// Kernel (entry function) name.
    pub kernel: String,
    /// `sm_XX`.
    pub arch: String,
    /// Registers per thread.
    pub registers: u32,
    /// Bytes of spill stores.
    pub spill_stores: u32,
    /// Bytes of spill loads.
    pub spill_loads: u32,
    /// Shared memory per block, bytes.
    pub shared_bytes: u64,
    /// `LDL` + `STL` instructions.
    pub local_memory_instructions: u64,
    /// Tensor-core instructions.
    pub tensor_core_instructions: u64,
}

/// How far each field may move the wrong way before it counts as a regression.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Allowances {
    /// Registers may grow by this much.
    pub registers_allowance: u32,
    /// Spill stores, and spill loads, may each grow by this many bytes.
    pub spill_bytes_allowance: u32,
    /// Shared memory may grow by this many bytes.
    pub shared_bytes_allowance: u64,
    /// Local-memory instructions may grow by this many.
    pub local_memory_allowance: u64,
    /// Tensor-core instructions may shrink by this many.
    pub tensor_core_allowance: u64,
}

/// A field of [`InspectionRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `registers`.
    Registers,
    /// `spill_stores`.
    SpillStores,
    /// `spill_loads`.
    SpillLoads,
    /// `shared_bytes`.
    SharedBytes,
    /// `local_memory_instructions`.
    LocalMemoryInstructions,
    /// `tensor_core_instructions`.
    TensorCoreInstructions,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Registers => "registers",
            Field::SpillStores => "spill_stores",
            Field::SpillLoads => "spill_loads",
            Field::SharedBytes => "shared_bytes",
            Field::LocalMemoryInstructions => "local_memory_instructions",
            Field::TensorCoreInstructions => "tensor_core_instructions",
        })
    }
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMove {
    /// The field.
    pub field: Field,
    /// Its value in the snapshot.
    pub old: u64,
    /// Its value now.
    pub new: u64,
    /// The move the wrong way that was allowed.
    pub allowance: u64,
    /// Whether it moved the wrong way by more than the allowance.
    pub regression: bool,
}

impl fmt::Display for FieldMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.old, self.new)?;
        if self.regression {
            write!(f, " (regression, allowance {})", self.allowance)?;
        }
        Ok(())
    }
}

/// The moves of one (kernel, arch) present in both lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDiff {
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// The fields that changed, in [`Field`] order.
    pub moves: Vec<FieldMove>,
}

/// The comparison of two lists of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiff {
    /// Records present in both lists with at least one field changed.
    pub changed: Vec<RecordDiff>,
    /// `(kernel, arch)` only in the new list.
    pub added: Vec<(String, String)>,
    /// `(kernel, arch)` only in the snapshot.
    pub removed: Vec<(String, String)>,
}

impl SnapshotDiff {
    /// Every move that is a regression, with its kernel and arch.
    pub fn regressions(&self) -> impl Iterator<Item = (&RecordDiff, &FieldMove)> {
        self.changed
            .iter()
            .flat_map(|r| r.moves.iter().filter(|m| m.regression).map(move |m| (r, m)))
    }

    /// No regression and nothing removed.
    pub fn passed(&self) -> bool {
        self.regressions().next().is_none() && self.removed.is_empty()
    }
}

/// Why two lists could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// The same (kernel, arch) appears twice in one list.
    #[error("{list} has two records for kernel `{kernel}` on `{arch}`")]
    Duplicate {
        /// `snapshot` or `current`.
        list: &'static str,
        /// Kernel.
        kernel: String,
        /// Arch.
        arch: String,
    },
}

fn index<'a>(
    list: &'static str,
    records: &'a [InspectionRecord],
) -> Result<BTreeMap<(&'a str, &'a str), &'a InspectionRecord>, SnapshotError> {
    let mut map = BTreeMap::new();
    for r in records {
        if map
            .insert((r.kernel.as_str(), r.arch.as_str()), r)
            .is_some()
        {
            return Err(SnapshotError::Duplicate {
                list,
                kernel: r.kernel.clone(),
                arch: r.arch.clone(),
            });
        }
    }
    Ok(map)
}

/// Compares `current` against `snapshot`. Records are matched on (kernel, arch); the
/// result is ordered by kernel, then arch.
pub fn compare(
    snapshot: &[InspectionRecord],
    current: &[InspectionRecord],
    allowances: &Allowances,
) -> Result<SnapshotDiff, SnapshotError> {
    let old = index("snapshot", snapshot)?;
    let new = index("current", current)?;
    let mut diff = SnapshotDiff::default();
    for (key, o) in &old {
        let Some(n) = new.get(key) else {
            diff.removed.push((key.0.to_string(), key.1.to_string()));
            continue;
        };
        // (field, old, new, allowance, whether growth is the wrong way)
        let fields = [
            (
                Field::Registers,
                o.registers.into(),
                n.registers.into(),
                allowances.registers_allowance.into(),
                true,
            ),
            (
                Field::SpillStores,
                o.spill_stores.into(),
                n.spill_stores.into(),
                allowances.spill_bytes_allowance.into(),
                true,
            ),
            (
                Field::SpillLoads,
                o.spill_loads.into(),
                n.spill_loads.into(),
                allowances.spill_bytes_allowance.into(),
                true,
            ),
            (
                Field::SharedBytes,
                o.shared_bytes,
                n.shared_bytes,
                allowances.shared_bytes_allowance,
                true,
            ),
            (
                Field::LocalMemoryInstructions,
                o.local_memory_instructions,
                n.local_memory_instructions,
                allowances.local_memory_allowance,
                true,
            ),
            (
                Field::TensorCoreInstructions,
                o.tensor_core_instructions,
                n.tensor_core_instructions,
                allowances.tensor_core_allowance,
                false,
            ),
        ];
        let moves: Vec<FieldMove> = fields
            .into_iter()
            .filter(|(_, old, new, _, _)| old != new)
            .map(
                |(field, old, new, allowance, growth_is_worse): (Field, u64, u64, u64, bool)| {
                    let worse_by = if growth_is_worse {
                        new.saturating_sub(old)
                    } else {
                        old.saturating_sub(new)
                    };
                    FieldMove {
                        field,
                        old,
                        new,
                        allowance,
                        regression: worse_by > allowance,
                    }
                },
            )
            .collect();
        if !moves.is_empty() {
            diff.changed.push(RecordDiff {
                kernel: key.0.to_string(),
                arch: key.1.to_string(),
                moves,
            });
        }
    }
    diff.added = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(|k| (k.0.to_string(), k.1.to_string()))
        .collect();
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kernel: &str, arch: &str, registers: u32, tensor: u64) -> InspectionRecord {
        InspectionRecord {
            kernel: kernel.into(),
            arch: arch.into(),
            registers,
            shared_bytes: 16384,
            tensor_core_instructions: tensor,
            ..InspectionRecord::default()
        }
    }

    #[test]
    fn identical_lists_pass_with_no_moves() {
        let a = [rec("k", "sm_80", 96, 64), rec("k", "sm_90", 90, 32)];
        let d = compare(&a, &a, &Allowances::default()).unwrap();
        assert_eq!(d, SnapshotDiff::default());
        assert!(d.passed());
    }

    #[test]
    fn moves_the_wrong_way_beyond_allowance_regress() {
        let old = [rec("k", "sm_80", 96, 64)];
        let new = [InspectionRecord {
            spill_stores: 8,
            ..rec("k", "sm_80", 100, 32)
        }];
        let d = compare(
            &old,
            &new,
            &Allowances {
                registers_allowance: 8,
                ..Allowances::default()
            },
        )
        .unwrap();
        let moves = &d.changed[0].moves;
        assert_eq!(
            moves.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "registers: 96 -> 100",
                "spill_stores: 0 -> 8 (regression, allowance 0)",
                "tensor_core_instructions: 64 -> 32 (regression, allowance 0)",
            ]
        );
        assert_eq!(d.regressions().count(), 2);
        assert!(!d.passed());
    }

    #[test]
    fn moves_the_right_way_never_regress() {
        let old = [rec("k", "sm_80", 128, 32)];
        let new = [rec("k", "sm_80", 96, 64)];
        let d = compare(&old, &new, &Allowances::default()).unwrap();
        assert_eq!(d.changed[0].moves.len(), 2);
        assert!(d.passed());
    }

    #[test]
    fn removed_records_fail_and_added_ones_do_not() {
        let old = [rec("k", "sm_80", 96, 64), rec("k", "sm_90", 96, 64)];
        let new = [rec("k", "sm_80", 96, 64), rec("k2", "sm_80", 96, 64)];
        let d = compare(&old, &new, &Allowances::default()).unwrap();
        assert_eq!(d.removed, [("k".to_string(), "sm_90".to_string())]);
        assert_eq!(d.added, [("k2".to_string(), "sm_80".to_string())]);
        assert!(!d.passed());
    }

    #[test]
    fn duplicates_are_an_error() {
        let a = [rec("k", "sm_80", 96, 64), rec("k", "sm_80", 97, 64)];
        let e = compare(&a, &[], &Allowances::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "snapshot has two records for kernel `k` on `sm_80`"
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let a = vec![rec("k", "sm_80", 96, 64)];
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<InspectionRecord>>(&json).unwrap(),
            a
        );
    }
}
