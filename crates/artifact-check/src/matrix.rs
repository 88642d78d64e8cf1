//! The release matrix (`release.toml`): which gates each config needs, and the claims that
//! EVIDENCE.md must back with figures.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The gates, as artifact folders, with the tool that writes each.
pub const GATES: &[(&str, &str)] = &[
    ("oracle", "oracle"),
    ("sanitizers", "sanitizer-gate"),
    ("stats", "sass-inspect"),
    ("bench", "bench"),
];

/// The tool that writes a gate folder's summaries.
pub fn tool_of(gate: &str) -> Option<&'static str> {
    GATES.iter().find(|g| g.0 == gate).map(|g| g.1)
}

/// The built-in matrix (`crates/artifact-check/release.toml`).
pub const DEFAULT_MATRIX: &str = include_str!("../release.toml");

/// A kernel and the config where its speed is claimed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedClaim {
    /// Kernel name.
    pub kernel: String,
    /// Config name.
    pub config: String,
    /// The least speed-up (fastest baseline's p50 / kernel's p50) claimed in every mode the
    /// bench timed, e.g. `1.25`, or `0.6` for "at least 60% of the baseline's speed".
    /// Without it the claim is "faster": a speed-up above 1 in every mode.
    #[serde(default)]
    pub at_least: Option<f64>,
}

impl SpeedClaim {
    /// Whether `speedup` meets the claim.
    pub fn met_by(&self, speedup: f64) -> bool {
        match self.at_least {
            Some(r) => speedup >= r,
            None => speedup > 1.0,
        }
    }

    /// The claim in words.
    pub fn title(&self) -> String {
        let (k, c) = (&self.kernel, &self.config);
        match self.at_least {
            Some(r) => format!("{k} runs at least {r}x as fast as the fastest baseline at {c}"),
            None => format!("{k} is faster than the fastest baseline at {c}"),
        }
    }

    /// The claim's id in JUnit and EVIDENCE.md.
    pub fn id(&self) -> String {
        let (k, c) = (&self.kernel, &self.config);
        match self.at_least {
            Some(r) => format!("speed.{k}.{c}.at_least_{r}"),
            None => format!("faster.{k}.{c}"),
        }
    }
}

/// The claims section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Kernels claimed free of shared-memory races and barrier errors.
    #[serde(default)]
    pub race_free: Vec<String>,
    /// Kernels claimed to run on tensor cores.
    #[serde(default)]
    pub tensor_cores: Vec<String>,
    /// Kernels claimed correct on every config.
    #[serde(default)]
    pub correct: Vec<String>,
    /// Speed claims against the bench run's baselines.
    #[serde(default)]
    pub faster: Vec<SpeedClaim>,
}

/// A parsed, validated release matrix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Config name -> gates required.
    pub matrix: BTreeMap<String, Vec<String>>,
    /// Claims for EVIDENCE.md.
    #[serde(default)]
    pub claims: Claims,
}

impl Matrix {
    /// Parses and validates matrix text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let m: Matrix = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        if m.matrix.is_empty() {
            return Err(format!("{origin}: [matrix] names no config"));
        }
        for (config, gates) in &m.matrix {
            for g in gates {
                if tool_of(g).is_none() {
                    let known: Vec<&str> = GATES.iter().map(|g| g.0).collect();
                    return Err(format!(
                        "{origin}: matrix.{config}: unknown gate `{g}` (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        for c in &m.claims.faster {
            if !m.matrix.contains_key(&c.config) {
                return Err(format!(
                    "{origin}: claims.faster: config `{}` is not in [matrix]",
                    c.config
                ));
            }
            if let Some(r) = c.at_least {
                if !(r.is_finite() && r > 0.0) {
                    return Err(format!(
                        "{origin}: claims.faster: at_least = {r} for {} at {}: give a speed-up above 0, e.g. 1.25",
                        c.kernel, c.config
                    ));
                }
            }
        }
        Ok(m)
    }

    /// The built-in matrix, or the file at `path`.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        match path {
            None => Self::parse(DEFAULT_MATRIX, "built-in release.toml"),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("read release matrix {}: {e}", p.display()))?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }

    /// Whether `config` needs `gate`.
    pub fn requires(&self, config: &str, gate: &str) -> bool {
        self.matrix
            .get(config)
            .is_some_and(|g| g.iter().any(|x| x == gate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_matrix_parses() {
        let m = Matrix::load(None).expect("built-in");
        assert_eq!(m.matrix.len(), 6);
        assert!(m.requires("canon_3", "sanitizers"));
        assert!(!m.requires("canon_2", "sanitizers"));
        assert!(m.requires("canon_6", "bench"));
    }

    #[test]
    fn a_speed_claim_with_a_floor_is_met_at_the_floor_and_one_without_only_above_one() {
        let claim = |at_least| SpeedClaim {
            kernel: "fa_tc".into(),
            config: "canon_3".into(),
            at_least,
        };
        let faster = claim(None);
        assert!(!faster.met_by(1.0) && faster.met_by(1.001));
        assert_eq!(faster.id(), "faster.fa_tc.canon_3");
        let by = claim(Some(1.25));
        assert!(by.met_by(1.25) && !by.met_by(1.249));
        assert_eq!(
            by.title(),
            "fa_tc runs at least 1.25x as fast as the fastest baseline at canon_3"
        );
        assert_eq!(by.id(), "speed.fa_tc.canon_3.at_least_1.25");
        assert!(claim(Some(0.6)).met_by(0.87));
    }

    #[test]
    fn rejections_name_the_key() {
        for (text, msg) in [
            (
                "[matrix]\ncanon_1 = [\"orcale\"]\n",
                "unknown gate `orcale`",
            ),
            ("[matrix]\n", "names no config"),
            (
                "[matrix]\na = []\n[claims]\nfast = []\n",
                "unknown field `fast`",
            ),
            (
                "[matrix]\na = []\n[claims]\nfaster = [{kernel = \"k\", config = \"b\"}]\n",
                "config `b` is not in [matrix]",
            ),
            (
                "[matrix]\nb = []\n[claims]\nfaster = [{kernel = \"k\", config = \"b\", at_least = -1.0}]\n",
                "at_least = -1 for k at b",
            ),
            (
                "[matrix]\nb = []\n[claims]\nfaster = [{kernel = \"k\", config = \"b\", by = 1.2}]\n",
                "unknown field `by`",
            ),
        ] {
            let err = Matrix::parse(text, "m.toml").expect_err(text);
            assert!(err.contains(msg), "{err} should contain {msg}");
        }
    }
}
