//! CI outputs every tool can share: a JUnit XML report (written with quick-junit, the
//! format's de-facto Rust writer), Markdown appended to GitHub's job summary, and a reader
//! that parses a report back and checks it against the JUnit schema's rules (tests use it).
//!
//! Tools decide what a test case is (DESIGN.md: one per kernel x config x check); this
//! module only collects them and writes the files, atomically.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

/// One test case and what goes with it, for [`Junit::push`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    /// The test case's name.
    pub name: String,
    /// `Some(message)`: the case failed, with this one-line message.
    pub failure: Option<String>,
    /// `Some(message)`: the case did not run (a skip, never a pass).
    pub skipped: Option<String>,
    /// The failure's body; on a pass or skip, the case's `system-out`.
    pub detail: String,
    /// `<property name value>` pairs (figures a CI page can show).
    pub properties: Vec<(String, String)>,
}

impl Case {
    /// A passing case.
    pub fn pass(name: impl Into<String>) -> Self {
        Case {
            name: name.into(),
            ..Case::default()
        }
    }

    /// A failing case with its one-line message.
    pub fn fail(name: impl Into<String>, message: impl Into<String>) -> Self {
        Case {
            name: name.into(),
            failure: Some(message.into()),
            ..Case::default()
        }
    }

    /// Passing when `failure` is `None`, else failing with that message.
    pub fn outcome(name: impl Into<String>, failure: Option<String>) -> Self {
        Case {
            name: name.into(),
            failure,
            ..Case::default()
        }
    }

    /// A case that did not run, with the reason.
    pub fn skipped(name: impl Into<String>, message: impl Into<String>) -> Self {
        Case {
            name: name.into(),
            skipped: Some(message.into()),
            ..Case::default()
        }
    }

    /// Sets the detail text.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Adds a property.
    pub fn property(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.properties.push((name.into(), value.to_string()));
        self
    }
}

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
        self.push(
            suite,
            Case::outcome(name, failure.map(str::to_string)).detail(detail),
        );
    }

    /// Adds `case` to `suite` (created on first use); its classname is `<tool>.<suite>`
    /// (or `suite` itself where that already starts with `<tool>.`).
    pub fn push(&mut self, suite: &str, case: Case) {
        let status = match (&case.failure, &case.skipped) {
            (Some(msg), _) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(msg.as_str()).set_type("check failed");
                if !case.detail.is_empty() {
                    s.set_description(case.detail.as_str());
                }
                s
            }
            (None, Some(msg)) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(msg.as_str());
                s
            }
            (None, None) => TestCaseStatus::success(),
        };
        let mut tc = TestCase::new(case.name.as_str(), status);
        tc.set_classname(self.classname(suite));
        if case.failure.is_none() && !case.detail.is_empty() {
            tc.set_system_out(case.detail.as_str());
        }
        tc.add_properties(
            case.properties
                .iter()
                .map(|(k, v)| Property::new(k.as_str(), v.as_str())),
        );
        match self.suites.iter_mut().find(|(n, _)| n == suite) {
            Some((_, cases)) => cases.push(tc),
            None => self.suites.push((suite.to_string(), vec![tc])),
        }
    }

    /// A suite's classname: the suite qualified by the tool, `<tool>.<suite>`, unless it
    /// already is (`oracle.canon_3` in the oracle's report stays as it is).
    fn classname(&self, suite: &str) -> String {
        match suite.strip_prefix(self.name.as_str()) {
            Some(rest) if rest.starts_with('.') => suite.to_string(),
            _ => format!("{}.{suite}", self.name),
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

/// A Markdown table: a header row, then one row per entry; `|` and line breaks in cells
/// are escaped so a reason cannot break the table.
pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\r', '\n'], " ");
    let mut md = format!("| {} |\n|", header.join(" | "));
    md.push_str(&"---|".repeat(header.len()));
    md.push('\n');
    for r in rows {
        md.push_str("| ");
        md.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
        md.push_str(" |\n");
    }
    md
}

/// A JUnit report as read back by [`read_junit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadReport {
    /// The `<testsuites name>`.
    pub name: String,
    /// The suites, in file order.
    pub suites: Vec<ReadSuite>,
}

impl ReadReport {
    /// Every test case with its suite's name.
    pub fn cases(&self) -> impl Iterator<Item = (&str, &ReadCase)> {
        self.suites
            .iter()
            .flat_map(|s| s.cases.iter().map(move |c| (s.name.as_str(), c)))
    }

    /// Number of test cases.
    pub fn tests(&self) -> usize {
        self.suites.iter().map(|s| s.cases.len()).sum()
    }

    /// Number of failed test cases.
    pub fn failures(&self) -> usize {
        self.cases().filter(|(_, c)| c.failure.is_some()).count()
    }

    /// The case named `name` in suite `suite`, if any.
    pub fn case(&self, suite: &str, name: &str) -> Option<&ReadCase> {
        self.cases()
            .find(|(s, c)| *s == suite && c.name == name)
            .map(|(_, c)| c)
    }
}

/// One `<testsuite>` read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSuite {
    /// `name`.
    pub name: String,
    /// Its test cases.
    pub cases: Vec<ReadCase>,
}

/// One `<testcase>` read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadCase {
    /// `name`.
    pub name: String,
    /// `classname`.
    pub classname: String,
    /// `<failure>`: its `message` and body text.
    pub failure: Option<(String, String)>,
    /// `<skipped>`: its `message`.
    pub skipped: Option<String>,
    /// `<system-out>` text.
    pub system_out: String,
    /// `<properties><property name value>` pairs.
    pub properties: Vec<(String, String)>,
}

impl ReadCase {
    /// The value of property `name`, if present.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses JUnit XML with a real XML parser and checks it against the rules of the JUnit
/// schema (the Ant/Jenkins `junit.xsd` family that CI systems read): the root is
/// `<testsuites>`; `<testsuite>` sits only in it and carries `name` and `tests`;
/// `<testcase>` sits only in a suite and carries `name` and `classname`; `<failure>`,
/// `<error>`, `<skipped>` sit only in a case, at most one of them; `<properties>` and
/// `<system-out>` sit in a suite or case; and the `tests`, `failures`, `errors` and
/// `skipped` counts on every suite and on the root equal what the file holds.
pub fn read_junit(xml: &str) -> anyhow::Result<ReadReport> {
    use quick_xml::events::{BytesStart, Event};

    fn attrs(e: &BytesStart<'_>) -> anyhow::Result<Vec<(String, String)>> {
        e.attributes()
            .map(|a| {
                let a = a.context("malformed attribute")?;
                Ok((
                    String::from_utf8(a.key.as_ref().to_vec()).context("attribute name")?,
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .context("attribute value")?
                        .into_owned(),
                ))
            })
            .collect()
    }
    fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    #[derive(Default)]
    struct Counts {
        tests: usize,
        failures: usize,
        errors: usize,
        skipped: usize,
    }
    fn check_counts(what: &str, attrs: &[(String, String)], c: &Counts) -> anyhow::Result<()> {
        for (key, n, required) in [
            ("tests", c.tests, what != "testsuites"),
            ("failures", c.failures, false),
            ("errors", c.errors, false),
            ("skipped", c.skipped, false),
        ] {
            match get(attrs, key) {
                Some(v) => {
                    let v: usize = v
                        .parse()
                        .with_context(|| format!("<{what}> {key}=\"{v}\" is not a count"))?;
                    if v != n {
                        bail!("<{what}> says {key}=\"{v}\" but holds {n}");
                    }
                }
                None if required => bail!("<{what}> has no `{key}` attribute"),
                None => {}
            }
        }
        Ok(())
    }

    let mut reader = quick_xml::Reader::from_str(xml);
    let mut report = ReadReport::default();
    let mut stack: Vec<String> = Vec::new();
    let (mut root_attrs, mut suite_attrs) = (Vec::new(), Vec::new());
    let (mut total, mut in_suite) = (Counts::default(), Counts::default());
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        let ev = reader
            .read_event()
            .with_context(|| format!("not well-formed XML at byte {}", reader.buffer_position()))?;
        let (e, empty) = match ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Text(t) => {
                text.push_str(&t.xml10_content().context("text")?);
                continue;
            }
            Event::CData(t) => {
                text.push_str(&t.decode().context("CDATA")?);
                continue;
            }
            Event::GeneralRef(r) => {
                let name = r.decode().context("reference")?;
                match r.resolve_char_ref().context("character reference")? {
                    Some(ch) => text.push(ch),
                    None => match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => bail!("unknown entity &{name};"),
                    },
                }
                continue;
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                end(
                    &name,
                    &stack,
                    &mut report,
                    &mut text,
                    &suite_attrs,
                    &mut in_suite,
                    &mut total,
                )?;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(e.name().as_ref().to_vec()).context("element name")?;
        let a = attrs(&e)?;
        let parent = stack.last().map(String::as_str);
        let in_case = parent == Some("testcase");
        match name.as_str() {
            "testsuites" => {
                if parent.is_some() || seen_root {
                    bail!("<testsuites> must be the one root element");
                }
                seen_root = true;
                report.name = get(&a, "name").unwrap_or_default().to_string();
                root_attrs = a;
            }
            "testsuite" => {
                if parent != Some("testsuites") {
                    bail!("<testsuite> outside <testsuites>");
                }
                let Some(n) = get(&a, "name") else {
                    bail!("<testsuite> without a `name`");
                };
                report.suites.push(ReadSuite {
                    name: n.to_string(),
                    cases: Vec::new(),
                });
                suite_attrs = a;
                in_suite = Counts::default();
            }
            "testcase" => {
                if parent != Some("testsuite") {
                    bail!("<testcase> outside <testsuite>");
                }
                let (Some(n), Some(c)) = (get(&a, "name"), get(&a, "classname")) else {
                    bail!("<testcase> without `name` and `classname`: {a:?}");
                };
                let case = ReadCase {
                    name: n.to_string(),
                    classname: c.to_string(),
                    ..ReadCase::default()
                };
                in_suite.tests += 1;
                last_suite(&mut report)?.cases.push(case);
            }
            "failure" | "error" | "skipped" => {
                if !in_case {
                    bail!("<{name}> outside <testcase>");
                }
                let case = last_case(&mut report)?;
                if case.failure.is_some() || case.skipped.is_some() {
                    bail!("test case `{}` has more than one outcome", case.name);
                }
                let msg = get(&a, "message").unwrap_or_default().to_string();
                match name.as_str() {
                    "skipped" => {
                        case.skipped = Some(msg);
                        in_suite.skipped += 1;
                    }
                    kind => {
                        case.failure = Some((msg, String::new()));
                        if kind == "failure" {
                            in_suite.failures += 1;
                        } else {
                            in_suite.errors += 1;
                        }
                    }
                }
            }
            "properties" | "system-out" | "system-err" => {
                if !(in_case || parent == Some("testsuite")) {
                    bail!("<{name}> outside <testsuite> or <testcase>");
                }
            }
            "property" => {
                if parent != Some("properties") {
                    bail!("<property> outside <properties>");
                }
                let (Some(k), Some(v)) = (get(&a, "name"), get(&a, "value")) else {
                    bail!("<property> without `name` and `value`");
                };
                if stack.len() >= 2 && stack[stack.len() - 2] == "testcase" {
                    last_case(&mut report)?
                        .properties
                        .push((k.to_string(), v.to_string()));
                }
            }
            other => {
                if !in_case {
                    bail!("unexpected element <{other}>");
                }
            }
        }
        text.clear();
        if empty {
            end(
                &name,
                &stack,
                &mut report,
                &mut text,
                &suite_attrs,
                &mut in_suite,
                &mut total,
            )?;
        } else {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        bail!("unclosed elements: {stack:?}");
    }
    if !seen_root {
        bail!("no <testsuites> root element");
    }
    check_counts("testsuites", &root_attrs, &total)?;
    return Ok(report);

    fn last_suite(r: &mut ReadReport) -> anyhow::Result<&mut ReadSuite> {
        r.suites.last_mut().context("no suite")
    }
    fn last_case(r: &mut ReadReport) -> anyhow::Result<&mut ReadCase> {
        last_suite(r)?.cases.last_mut().context("no test case")
    }
    /// What closing an element does: keeps its text, or checks a suite's counts.
    #[allow(clippy::too_many_arguments)]
    fn end(
        name: &str,
        stack: &[String],
        report: &mut ReadReport,
        text: &mut String,
        suite_attrs: &[(String, String)],
        in_suite: &mut Counts,
        total: &mut Counts,
    ) -> anyhow::Result<()> {
        let parent = stack.last().map(String::as_str);
        match name {
            "failure" | "error" => {
                if let Some((_, body)) = last_case(report)?.failure.as_mut() {
                    *body = std::mem::take(text);
                }
            }
            "system-out" if parent == Some("testcase") => {
                last_case(report)?.system_out = std::mem::take(text);
            }
            "testsuite" => {
                check_counts("testsuite", suite_attrs, in_suite)?;
                total.tests += in_suite.tests;
                total.failures += in_suite.failures;
                total.errors += in_suite.errors;
                total.skipped += in_suite.skipped;
            }
            _ => {}
        }
        text.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = read_junit(&j.to_xml().expect("xml")).expect("valid JUnit");
        let (suites, cases, failures) = (r.suites.len(), r.tests(), r.failures());
        assert_eq!((suites, cases, failures), (2, 3, 1));
    }

    #[test]
    fn read_junit_gives_back_what_push_wrote() {
        let mut j = Junit::new("bench");
        j.push(
            "bench.canon_3",
            Case::pass("fa_tc cold")
                .detail("p50 10.82 us, p90 11.02 us")
                .property("p50_us", 10.82)
                .property("p90_us", 11.02),
        );
        j.push(
            "bench.canon_3",
            Case::fail("fa_tc hot", "wrong output: 3 < 4 & \"x\"").detail("line 1\nline 2"),
        );
        j.push("oracle.canon_5", Case::skipped("ctl_x", "no GPU"));
        let r = read_junit(&j.to_xml().expect("xml")).expect("valid JUnit");
        assert_eq!(r.name, "bench");
        assert_eq!((r.suites.len(), r.tests(), r.failures()), (2, 3, 1));
        let cold = r.case("bench.canon_3", "fa_tc cold").expect("cold case");
        assert_eq!(cold.classname, "bench.canon_3");
        assert_eq!(cold.property("p50_us"), Some("10.82"));
        assert_eq!(cold.property("p90_us"), Some("11.02"));
        assert_eq!(cold.system_out, "p50 10.82 us, p90 11.02 us");
        assert_eq!(cold.failure, None);
        let hot = r.case("bench.canon_3", "fa_tc hot").expect("hot case");
        assert_eq!(
            hot.failure,
            Some((
                "wrong output: 3 < 4 & \"x\"".to_string(),
                "line 1\nline 2".to_string()
            ))
        );
        let skip = r.case("oracle.canon_5", "ctl_x").expect("skipped case");
        assert_eq!(skip.classname, "bench.oracle.canon_5");
        assert_eq!(skip.skipped.as_deref(), Some("no GPU"));
        assert_eq!(skip.failure, None);
    }

    #[test]
    fn read_junit_rejects_what_the_schema_forbids() {
        let bad = [
            ("<testsuite name=\"a\" tests=\"0\"/>", "outside <testsuites>"),
            (
                "<testsuites><testcase name=\"x\" classname=\"c\"/></testsuites>",
                "outside <testsuite>",
            ),
            (
                "<testsuites><testsuite name=\"a\" tests=\"1\"><testcase name=\"x\"/></testsuite></testsuites>",
                "classname",
            ),
            (
                "<testsuites><testsuite name=\"a\" tests=\"2\"><testcase name=\"x\" classname=\"c\"/></testsuite></testsuites>",
                "holds 1",
            ),
            (
                "<testsuites><testsuite name=\"a\" tests=\"1\" failures=\"0\"><testcase name=\"x\" classname=\"c\"><failure message=\"m\"/></testcase></testsuite></testsuites>",
                "failures",
            ),
            (
                "<testsuites><testsuite tests=\"0\"></testsuite></testsuites>",
                "without a `name`",
            ),
            ("<testsuites><testsuite name=\"a\" tests=\"0\">", "unclosed"),
            (
                "<testsuites tests=\"3\"><testsuite name=\"a\" tests=\"0\"/></testsuites>",
                "holds 0",
            ),
        ];
        for (xml, why) in bad {
            let err = format!("{:#}", read_junit(xml).expect_err(xml));
            assert!(err.contains(why), "{xml}: {err}");
        }
    }

    #[test]
    fn markdown_table_escapes_cells() {
        let md = markdown_table(
            &["kernel", "verdict"],
            &[vec!["a|b".into(), "FAIL: x\ny".into()]],
        );
        assert_eq!(
            md,
            "| kernel | verdict |\n|---|---|\n| a\\|b | FAIL: x y |\n"
        );
    }
}
