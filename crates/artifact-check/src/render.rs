//! The renderings of one [`Outcome`]: the terminal table (config x gate), the JUnit
//! report and the Markdown for `$GITHUB_STEP_SUMMARY`.

use tabled::settings::Style;
use tabled::{builder::Builder, Table};

use crate::matrix::{Matrix, GATES};
use crate::Outcome;

fn short(s: &str) -> String {
    const MAX: usize = 34;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX - 3).collect();
        format!("{cut}...")
    }
}

/// Columns of the table: the gates, then the cross-gate checks.
fn columns(fresh: bool) -> Vec<&'static str> {
    let mut c: Vec<&str> = GATES.iter().map(|g| g.0).collect();
    c.push("cubins");
    if fresh {
        c.push("fresh");
    }
    c
}

/// One cell: `pass`, `FAIL: reason`, `missing`, or `-` (not required, not present).
fn cell(out: &Outcome, m: &Matrix, config: &str, column: &str) -> String {
    let cases: Vec<_> = out
        .cases
        .iter()
        .filter(|c| c.suite == config)
        .filter(|c| match column {
            "cubins" => c.name.ends_with(".cubins"),
            "fresh" => c.name.ends_with(".fresh"),
            gate => c.name == gate,
        })
        .collect();
    if cases.is_empty() {
        return if m.requires(config, column) {
            "missing".into()
        } else {
            "-".into()
        };
    }
    match cases.iter().flat_map(|c| c.failures.iter()).next() {
        None => {
            let reason = out
                .summary(config, column)
                .map(|s| format!(": {}", short(&s.header.reason)))
                .unwrap_or_default();
            format!("pass{reason}")
        }
        Some(f) if f.starts_with("missing") => "MISSING".into(),
        Some(f) => format!("FAIL: {}", short(f)),
    }
}

fn rows(out: &Outcome, m: &Matrix, fresh: bool) -> Vec<Vec<String>> {
    let mut configs: Vec<String> = m.matrix.keys().cloned().collect();
    for c in &out.cases {
        if !matches!(c.suite.as_str(), "integrity" | "claims") && !configs.contains(&c.suite) {
            configs.push(c.suite.clone());
        }
    }
    configs
        .iter()
        .map(|config| {
            std::iter::once(config.clone())
                .chain(columns(fresh).iter().map(|col| cell(out, m, config, col)))
                .collect()
        })
        .collect()
}

/// The terminal table plus the integrity and claims lines, then every failure in full.
pub fn table(out: &Outcome, m: &Matrix, fresh: bool) -> String {
    let mut b = Builder::default();
    b.push_record(
        std::iter::once("config".to_string()).chain(columns(fresh).iter().map(|c| c.to_string())),
    );
    for r in rows(out, m, fresh) {
        b.push_record(r);
    }
    let mut t: Table = b.build();
    t.with(Style::sharp());
    let mut text = t.to_string();
    text.push('\n');
    for suite in ["integrity", "claims"] {
        for c in out.cases.iter().filter(|c| c.suite == suite) {
            text.push_str(&format!(
                "{suite}: {} {}\n",
                c.name,
                if c.failures.is_empty() {
                    "pass"
                } else {
                    "FAIL"
                }
            ));
        }
    }
    let failures: Vec<_> = out.failures().collect();
    if !failures.is_empty() {
        text.push_str(&format!("\n{} problem(s):\n", failures.len()));
        for (c, f) in failures {
            text.push_str(&format!("- [{} {}] {f}\n", c.suite, c.name));
        }
    }
    text
}

/// The JUnit report: one test case per check.
pub fn junit(out: &Outcome) -> cli_support::ci::Junit {
    let mut j = cli_support::ci::Junit::new("artifact-check");
    for c in &out.cases {
        let first = c.failures.first().map(String::as_str);
        j.case(&c.suite, &c.name, first, &c.failures.join("\n"));
    }
    j
}

/// Markdown for the job summary page.
pub fn markdown(out: &Outcome, m: &Matrix, fresh: bool, dir: &str) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut md = format!(
        "## artifact-check `{dir}`: {}\n\n",
        if out.passed() { "pass" } else { "FAIL" }
    );
    md.push_str("| config | ");
    md.push_str(&columns(fresh).join(" | "));
    md.push_str(" |\n|---|");
    md.push_str(&"---|".repeat(columns(fresh).len()));
    md.push('\n');
    for r in rows(out, m, fresh) {
        md.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    let failures: Vec<_> = out.failures().collect();
    if !failures.is_empty() {
        md.push_str("\nProblems:\n\n");
        for (c, f) in failures {
            md.push_str(&format!("- `{} {}`: {}\n", c.suite, c.name, esc(f)));
        }
    }
    md
}
