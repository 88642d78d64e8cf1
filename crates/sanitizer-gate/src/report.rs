//! Renderers of the findings model: the summary.json record, a human table, SARIF 2.1.0.

use std::path::{Path, PathBuf};

use cudadent_config::SanitizerTool;
use cudadent_evidence::Header;
use serde::Serialize;
use serde_json::{json, Value};
use tabled::{Table, Tabled};

use crate::finding::{GroupedFinding, Severity};
use crate::gate::Evaluation;

/// One run in summary.json: the evaluation plus where its evidence is.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// kernel, tool, control, caught, errors, warnings, findings, verdict, reason, ...
    #[serde(flatten)]
    pub eval: Evaluation,
    /// The manifest launch that ran (`default` or a `[[launch_rule]]`'s name): every
    /// launch of a kernel under test that can run at the config's head dim gets its own
    /// runs; null for planted-bug controls, which run as their manifest chooses.
    pub kernel_launch: Option<String>,
    /// The full log, relative to the summary's folder.
    pub log: String,
    /// sha256 of the log.
    pub log_sha256: String,
    /// Wall time of the run.
    pub wall_s: f64,
    /// The exact command line.
    pub command: String,
    /// Output beyond the capture limit was dropped.
    pub truncated: bool,
}

/// compute-sanitizer as found.
#[derive(Debug, Clone, Serialize)]
pub struct SanitizerInfo {
    /// Executable.
    pub path: String,
    /// Version (`2025.3.1.0`), if readable.
    pub version: Option<String>,
}

/// `artifacts/sanitizers/<config>/summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GateSummary {
    /// The common header (DESIGN.md).
    #[serde(flatten)]
    pub header: Header,
    /// The arch of the cubin the target ran for the kernels under test (the runtime's
    /// choice for this device: `sm_90a` on an H100 where the config builds it).
    pub loaded_arch: Option<String>,
    /// The tool.
    pub compute_sanitizer: SanitizerInfo,
    /// Tools run.
    pub tools: Vec<SanitizerTool>,
    /// The config the controls ran on.
    pub control_config: Option<String>,
    /// `--print-limit`.
    pub print_limit: u32,
    /// memcheck `--padding`.
    pub padding_bytes: u64,
    /// Timeout per run.
    pub timeout_s: u64,
    /// Every run, controls included.
    pub runs: Vec<RunRecord>,
    /// Sanitizer lines not understood, over all runs.
    pub lines_not_understood: usize,
}

#[derive(Tabled)]
struct FindingRow {
    kernel: String,
    tool: String,
    kind: String,
    detail: String,
    location: String,
    count: String,
    status: String,
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

/// A table of grouped findings (empty string when there are none).
pub fn findings_table<'a>(
    findings: impl IntoIterator<Item = (&'a GroupedFinding, bool)>,
) -> String {
    let rows: Vec<FindingRow> = findings
        .into_iter()
        .map(|(g, control)| FindingRow {
            kernel: if control {
                format!("{} (control)", g.kernel)
            } else {
                g.kernel.clone()
            },
            tool: g.tool.name().to_string(),
            kind: g.kind.name().to_string(),
            detail: cut(&g.kind.detail(), 70),
            location: g.location.clone(),
            count: match g.hazards {
                Some(h) => format!("{} ({h} hazards)", g.count),
                None => g.count.to_string(),
            },
            status: if g.suppressed {
                "suppressed".into()
            } else {
                match g.severity {
                    Severity::Error => "error".into(),
                    Severity::Warning => "warning".into(),
                    Severity::Info => "info".into(),
                }
            },
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    Table::new(rows)
        .with(tabled::settings::Style::sharp())
        .to_string()
}

#[derive(Tabled)]
struct RunRow {
    kernel: String,
    tool: String,
    errors: String,
    warnings: String,
    verdict: String,
    reason: String,
}

/// A table of runs.
pub fn runs_table(evals: &[&Evaluation]) -> String {
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let rows: Vec<RunRow> = evals
        .iter()
        .map(|e| RunRow {
            kernel: if e.control {
                format!("{} (control)", e.kernel)
            } else {
                e.kernel.clone()
            },
            tool: e.tool.name().to_string(),
            errors: opt(e.errors),
            warnings: opt(e.warnings),
            verdict: format!("{:?}", e.verdict).to_lowercase(),
            reason: cut(&e.reason, 110),
        })
        .collect();
    Table::new(rows)
        .with(tabled::settings::Style::sharp())
        .to_string()
}

/// Where a kernel's source is, to turn the file name the sanitizer prints into a path.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Kernel (manifest name).
    pub kernel: String,
    /// The source, relative to the repository root where possible.
    pub path: PathBuf,
}

fn uri_for(g: &GroupedFinding, sources: &[SourceFile]) -> Option<String> {
    let file = g.file.as_deref()?;
    let base = Path::new(file).file_name()?;
    let mine = sources
        .iter()
        .filter(|s| s.kernel == g.kernel)
        .chain(sources.iter())
        .find(|s| s.path.file_name() == Some(base));
    let path = match mine {
        Some(s) => s.path.to_string_lossy().into_owned(),
        None => file.to_string(),
    };
    Some(uri_reference(&path))
}

/// A path as a URI reference (RFC 3986): `\\` becomes `/`; bytes outside the unreserved
/// set and `/` are percent-encoded, so a printed path with spaces or `#` stays a valid
/// `artifactLocation.uri`.
fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SARIF 2.1.0 with one result per grouped finding of the kernels under test (controls'
/// planted bugs are not results), at its source line; `ruleId` is `tool/kind`; suppressed
/// findings carry an external suppression with the configured reason.
pub fn sarif(evals: &[&Evaluation], sources: &[SourceFile], tool_version: &str) -> Value {
    let mut rules: Vec<String> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for e in evals.iter().filter(|e| !e.control) {
        for g in &e.findings {
            let rule = g.rule_id();
            if !rules.contains(&rule) {
                rules.push(rule.clone());
            }
            let level = match g.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let mut text = format!(
                "{}: {} in kernel `{}`",
                g.kind.name(),
                g.kind.detail(),
                g.kernel
            );
            if g.count > 1 {
                text.push_str(&format!(" ({} reports)", g.count));
            }
            text.push_str(&format!(". {}", g.message));
            let mut location = serde_json::Map::new();
            if let Some(uri) = uri_for(g, sources) {
                let mut phys = json!({ "artifactLocation": { "uri": uri } });
                if let Some(line) = g.line {
                    phys["region"] = json!({ "startLine": line });
                }
                location.insert("physicalLocation".into(), phys);
            }
            if let Some(f) = &g.function {
                location.insert(
                    "logicalLocations".into(),
                    json!([{ "name": f, "kind": "function" }]),
                );
            }
            let mut result = json!({
                "ruleId": rule,
                "level": level,
                "message": { "text": text },
                "locations": if location.is_empty() { json!([]) } else { json!([Value::Object(location)]) },
                "properties": {
                    "kernel": g.kernel,
                    "tool": g.tool.name(),
                    "count": g.count,
                    "hazards": g.hazards,
                    "thread": g.thread.map(|d| d.to_string()),
                    "block": g.block.map(|d| d.to_string()),
                    "address": g.address,
                },
            });
            if g.suppressed {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "justification": g.suppression_reason.clone().unwrap_or_default(),
                }]);
            }
            results.push(result);
        }
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r,
                "shortDescription": { "text": format!("compute-sanitizer {}", r.replace('/', ": ")) },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "sanitizer-gate",
                    "version": tool_version,
                    "informationUri": "https://github.com/cudadent/cudadent",
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded_references() {
        assert_eq!(
            uri_reference("kernels/attention/fa_tc.cu"),
            "kernels/attention/fa_tc.cu"
        );
        assert_eq!(
            uri_reference("C:\\k\\my kernel#1.cu"),
            "C%3A/k/my%20kernel%231.cu"
        );
        assert_eq!(uri_reference("é.cu"), "%C3%A9.cu");
    }
}
