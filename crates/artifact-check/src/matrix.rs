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
        ] {
            let err = Matrix::parse(text, "m.toml").expect_err(text);
            assert!(err.contains(msg), "{err} should contain {msg}");
        }
    }
}
