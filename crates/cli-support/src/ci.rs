//! CI outputs every tool can share: a JUnit XML report (written with quick-junit, the
//! format's de-facto Rust writer) and Markdown appended to GitHub's job summary.
//!
//! Tools decide what a test case is (DESIGN.md: one per kernel x config x check); this
//! module only collects them and writes the files, atomically.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// A JUnit report under construction: suites in the order first used, cases in the order
/// added.
#[derive(Debug)]
pub struct Junit {
    name: String,
    suites: Vec<(String, Vec<TestCase>)>,
}

impl Junit {
    /// An empty report named after the tool (`artifact-check`).
    pub fn new(name: impl Into<String>) -> Self {
        Junit {
            name: name.into(),
            suites: Vec::new(),
        }
    }

    /// Adds one test case to `suite` (created on first use). `failure` is `None` for a
    /// pass, else the one-line message; `detail` goes into the failure's body.
    pub fn case(&mut self, suite: &str, name: &str, failure: Option<&str>, detail: &str) {
        let status = match failure {
            None => TestCaseStatus::success(),
            Some(msg) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(msg).set_type("check failed");
                if !detail.is_empty() {
                    s.set_description(detail);
                }
                s
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(format!("{}.{suite}", self.name));
        match self.suites.iter_mut().find(|(n, _)| n == suite) {
            Some((_, cases)) => cases.push(case),
            None => self.suites.push((suite.to_string(), vec![case])),
        }
    }

    /// Number of test cases so far.
    pub fn len(&self) -> usize {
        self.suites.iter().map(|(_, c)| c.len()).sum()
    }

    /// Whether no test case was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The XML text (`<testsuites><testsuite><testcase>...`).
    pub fn to_xml(&self) -> anyhow::Result<String> {
        let mut report = Report::new(self.name.clone());
        for (name, cases) in &self.suites {
            let mut suite = TestSuite::new(name.clone());
            suite.add_test_cases(cases.iter().cloned());
            report.add_test_suite(suite);
        }
        report.to_string().context("serialise the JUnit report")
    }

    /// Writes the XML to `path` atomically.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let xml = self.to_xml()?;
        cudadent_evidence::write_atomic(path, xml.as_bytes())
            .with_context(|| format!("write JUnit report {}", path.display()))
    }
}

/// Appends `markdown` to the file named by `$GITHUB_STEP_SUMMARY`, when that variable is
/// set (GitHub Actions shows it on the run's page). Returns whether it wrote.
pub fn append_step_summary(markdown: &str) -> anyhow::Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let path = Path::new(&path);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open $GITHUB_STEP_SUMMARY {}", path.display()))?;
    let mut text = markdown.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    f.write_all(text.as_bytes())
        .with_context(|| format!("append to $GITHUB_STEP_SUMMARY {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    #[test]
    fn junit_parses_back_with_suites_cases_and_failures() {
        let mut j = Junit::new("tool");
        j.case("canon_1", "fa_tc.oracle", None, "");
        j.case(
            "canon_1",
            "fa_tc.bench",
            Some("p50 <missing> & \"x\""),
            "line 1\nline 2",
        );
        j.case("canon_3", "fa_tc.oracle", None, "");
        let xml = j.to_xml().expect("xml");
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut path, mut cases, mut failures, mut suites) = (Vec::new(), 0, 0, 0);
        loop {
            let (name, empty) = match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => (String::from_utf8(e.name().as_ref().to_vec()), false),
                Event::Empty(e) => (String::from_utf8(e.name().as_ref().to_vec()), true),
                Event::End(_) => {
                    path.pop();
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let name = name.expect("utf8 element name");
            let parent: Vec<&str> = path.iter().map(String::as_str).collect();
            match name.as_str() {
                "testsuites" => assert!(parent.is_empty()),
                "testsuite" => {
                    assert_eq!(parent, ["testsuites"]);
                    suites += 1;
                }
                "testcase" => {
                    assert_eq!(parent, ["testsuites", "testsuite"]);
                    cases += 1;
                }
                "failure" => {
                    assert_eq!(parent, ["testsuites", "testsuite", "testcase"]);
                    failures += 1;
                }
                _ => {}
            }
            if !empty {
                path.push(name);
            }
        }
        assert_eq!((suites, cases, failures), (2, 3, 1));
    }
}
