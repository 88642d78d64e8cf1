//! Reading snapshots, rendering the table, the JUnit report and the job-summary Markdown.

use std::collections::BTreeMap;
use std::path::Path;

use cli_support::ci::{markdown_table, Case, Junit};

use sass_inspect::snapshot::{Field, FieldMove, SnapshotDiff};
use sass_inspect::InspectionRecord;
use serde_json::Value;
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::inspect::{Inspection, Role};

/// The `inspections` of a summary.json as snapshot records. Lenient about fields: an
/// absent or null number reads as 0 (an older or partial summary still compares).
pub fn load_records(path: &Path) -> anyhow::Result<Vec<InspectionRecord>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| cli_support::bad_input(format!("snapshot {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        cli_support::bad_input(format!("snapshot {}: not JSON: {e}", path.display()))
    })?;
    let list = v
        .get("inspections")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            cli_support::bad_input(format!(
                "snapshot {}: no `inspections` array (not a sass-inspect summary)",
                path.display()
            ))
        })?;
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (Some(kernel), Some(arch)) = (s("kernel"), s("arch")) else {
            return Err(cli_support::bad_input(format!(
                "snapshot {}: inspections[{i}] has no `kernel` or `arch`",
                path.display()
            )));
        };
        // A launch rule's row is its own record (`kernel[launch]`); summaries written
        // before launch rules have no `launch`: the default.
        let launch = s("launch").unwrap_or_else(|| cudadent_config::DEFAULT_LAUNCH.into());
        out.push(InspectionRecord {
            kernel: cudadent_config::launch_label(&kernel, &launch),
            arch,
            registers: u32::try_from(n("registers")).unwrap_or(u32::MAX),
            spill_stores: u32::try_from(n("spill_stores")).unwrap_or(u32::MAX),
            spill_loads: u32::try_from(n("spill_loads")).unwrap_or(u32::MAX),
            shared_bytes: n("shared_bytes"),
            local_memory_instructions: n("local_memory_instructions"),
            tensor_core_instructions: n("tensor_core_instructions"),
        });
    }
    Ok(out)
}

#[derive(Tabled)]
struct Row {
    kernel: String,
    arch: String,
    regs: String,
    #[tabled(rename = "spill st/ld B")]
    spills: String,
    #[tabled(rename = "smem B (static+dyn)")]
    smem: String,
    #[tabled(rename = "occupancy blk/warps")]
    occupancy: String,
    #[tabled(rename = "TC instr")]
    tc: String,
    #[tabled(rename = "LDL/STL")]
    local: String,
    #[tabled(rename = "widest LDG")]
    ldg: String,
    verdict: String,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

/// The table: one row per kernel and arch; a field that moved since the snapshot shows
/// `old -> new`.
pub fn table(rows: &[Inspection], diff: Option<&SnapshotDiff>) -> String {
    let mut moves: BTreeMap<(&str, &str), Vec<&FieldMove>> = BTreeMap::new();
    if let Some(d) = diff {
        for r in &d.changed {
            moves
                .entry((r.kernel.as_str(), r.arch.as_str()))
                .or_default()
                .extend(r.moves.iter());
        }
    }
    let cell = |i: &Inspection, field: Field, now: String| -> String {
        let label = i.label();
        let found = moves
            .get(&(label.as_str(), i.arch.as_str()))
            .and_then(|ms| ms.iter().find(|m| m.field == field));
        match found {
            Some(m) => format!(
                "{} -> {}{}",
                m.old,
                now,
                if m.regression { " !" } else { "" }
            ),
            None => now,
        }
    };
    let data: Vec<Row> = rows
        .iter()
        .map(|i| {
            let kernel = match i.role {
                Role::UnderTest => i.label(),
                Role::Reference => format!("{} (ref)", i.label()),
            };
            let spills = format!(
                "{}/{}",
                cell(i, Field::SpillStores, opt(i.spill_stores)),
                cell(i, Field::SpillLoads, opt(i.spill_loads))
            );
            let smem = format!(
                "{} ({}+{})",
                cell(i, Field::SharedBytes, opt(i.shared_bytes)),
                opt(i.static_shared_bytes),
                i.dynamic_shared_bytes
            );
            let occupancy = match &i.occupancy {
                Some(o) => format!(
                    "{}/{} ({:.0}%)",
                    o.blocks_per_sm,
                    o.warps_per_sm,
                    o.occupancy * 100.0
                ),
                None => "?".into(),
            };
            let tc_now = if i.tensor_core_instructions == 0 {
                "0".to_string()
            } else if i.tensor_core_f16_accumulate == 0
                && i.tensor_core_f32_accumulate == i.tensor_core_instructions
            {
                format!("{} F32", i.tensor_core_instructions)
            } else {
                format!(
                    "{} ({} F32, {} F16)",
                    i.tensor_core_instructions,
                    i.tensor_core_f32_accumulate,
                    i.tensor_core_f16_accumulate
                )
            };
            let local = cell(
                i,
                Field::LocalMemoryInstructions,
                format!("{}/{}", i.census.local_loads, i.census.local_stores),
            );
            let mut verdict = i.verdict.to_uppercase();
            if i.lines_not_understood.total() > 0 {
                verdict.push_str(&format!(" ({}?)", i.lines_not_understood.total()));
            }
            Row {
                kernel,
                arch: i.arch.clone(),
                regs: cell(i, Field::Registers, opt(i.registers)),
                spills,
                smem,
                occupancy,
                tc: cell(i, Field::TensorCoreInstructions, tc_now),
                local,
                ldg: i
                    .global_load_max_bits
                    .map(|b| format!("{b}-bit"))
                    .unwrap_or_else(|| "-".into()),
                verdict,
            }
        })
        .collect();
    Table::new(data).with(Style::sharp()).to_string()
}

/// The JUnit report: one test case per kernel and arch (suite `sass-inspect.<config>`,
/// name `<kernel>.<arch>`), failing with the first policy violation and listing every one;
/// plus one case for the snapshot comparison, failing on a regression or lost coverage.
pub fn junit(config: &str, rows: &[Inspection], snapshot_failures: &[String]) -> Junit {
    let suite = format!("sass-inspect.{config}");
    let mut j = Junit::new("sass-inspect");
    for r in rows {
        let msgs: Vec<&str> = r.violations.iter().map(|v| v.message.as_str()).collect();
        let case = Case::outcome(
            format!("{}.{}", r.label(), r.arch),
            msgs.first().map(|m| m.to_string()),
        )
        .detail(msgs.join("\n"))
        .property("registers", opt(r.registers))
        .property("tensor_core_instructions", r.tensor_core_instructions)
        .property("spill_stores", opt(r.spill_stores))
        .property("spill_loads", opt(r.spill_loads));
        j.push(&suite, case);
    }
    let snapshot = if snapshot_failures.is_empty() {
        Case::pass("snapshot")
    } else {
        Case::fail("snapshot", "snapshot regression").detail(snapshot_failures.join("\n"))
    };
    j.push(&suite, snapshot);
    j
}

/// Markdown for the job summary: the verdict, then one line per kernel and arch with its
/// registers, spills and tensor-core instruction count.
pub fn markdown(config: &str, verdict: &str, reason: &str, rows: &[Inspection]) -> String {
    let mut md = format!(
        "### sass-inspect `{config}`: {verdict}\n\n{}\n\n",
        reason.replace('\n', " ")
    );
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|i| {
            vec![
                config.to_string(),
                match i.role {
                    Role::UnderTest => i.label(),
                    Role::Reference => format!("{} (ref)", i.label()),
                },
                i.arch.clone(),
                opt(i.registers),
                format!("{}/{}", opt(i.spill_stores), opt(i.spill_loads)),
                i.tensor_core_instructions.to_string(),
                if i.violations.is_empty() {
                    i.verdict.to_string()
                } else {
                    format!("{}: {}", i.verdict, i.violations[0].message)
                },
            ]
        })
        .collect();
    md.push_str(&markdown_table(
        &[
            "config",
            "kernel",
            "arch",
            "registers",
            "spill st/ld B",
            "TC instr",
            "verdict",
        ],
        &lines,
    ));
    md
}
