//! Reading the gates' summary.json files and checking their common header.

use std::path::Path;

use cudadent_evidence::Header;
use serde_json::Value;

use crate::matrix::tool_of;

/// The header fields of DESIGN.md, every one of which must be present (null allowed where
/// the type is optional).
pub const HEADER_KEYS: &[&str] = &[
    "schema_version",
    "tool",
    "tool_version",
    "git_commit",
    "git_dirty",
    "config",
    "config_sha256",
    "device",
    "driver_version",
    "toolkit_version",
    "started_at",
    "duration_s",
    "verdict",
    "reason",
    "kernels",
];

/// One gate's summary for one config.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Gate folder (`oracle`).
    pub gate: String,
    /// Config folder (`canon_3`).
    pub config: String,
    /// Path relative to the artifact directory.
    pub rel: String,
    /// The common header.
    pub header: Header,
    /// The whole object, for the gate's own fields.
    pub value: Value,
}

impl Summary {
    /// The arch whose cubin this gate ran on a device: the summary's `loaded_arch` where it
    /// records one, else the arch of the device named in the header. `None` for a CPU-only
    /// gate (no device) or a device this table does not know.
    pub fn ran_arch(&self) -> Option<String> {
        let device = self.header.device.as_deref()?;
        if let Some(a) = self.value.get("loaded_arch").and_then(Value::as_str) {
            return Some(a.to_string());
        }
        arch_of_device(device).map(str::to_string)
    }
}

/// The SASS arch of a GPU, by its name as the driver reports it. Order matters: a more
/// specific name comes before a name it contains (A100 before A10).
pub fn arch_of_device(name: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("GH200", "sm_90"),
        ("H100", "sm_90"),
        ("H200", "sm_90"),
        ("H800", "sm_90"),
        ("H20", "sm_90"),
        ("A100", "sm_80"),
        ("A800", "sm_80"),
        ("A30", "sm_80"),
        ("L40", "sm_89"),
        ("L4", "sm_89"),
        ("RTX 40", "sm_89"),
        ("ADA GENERATION", "sm_89"),
        ("A10", "sm_86"),
        ("A40", "sm_86"),
        ("RTX 30", "sm_86"),
        ("B200", "sm_100"),
        ("B100", "sm_100"),
    ];
    let upper = name.to_ascii_uppercase();
    TABLE
        .iter()
        .find(|(k, _)| upper.contains(k))
        .map(|(_, a)| *a)
}

/// Reads and checks one summary.json at `rel` (`<gate>/<config>/summary.json`).
/// Returns the summary, or the problems that make it unusable.
pub fn load(dir: &Path, rel: &str) -> Result<Summary, Vec<String>> {
    let parts: Vec<&str> = rel.split('/').collect();
    let [gate, config, "summary.json"] = parts[..] else {
        return Err(vec![format!(
            "{rel}: a summary.json outside the layout <gate>/<config>/summary.json"
        )]);
    };
    let Some(tool) = tool_of(gate) else {
        return Err(vec![format!("{rel}: unknown gate folder `{gate}`")]);
    };
    let text = std::fs::read_to_string(dir.join(rel)).map_err(|e| vec![format!("{rel}: {e}")])?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| vec![format!("{rel}: not JSON: {e}")])?;
    let Some(obj) = value.as_object() else {
        return Err(vec![format!("{rel}: not a JSON object")]);
    };
    let missing: Vec<&str> = HEADER_KEYS
        .iter()
        .copied()
        .filter(|k| !obj.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(vec![format!(
            "{rel}: header field(s) missing: {}",
            missing.join(", ")
        )]);
    }
    let header: Header = serde_json::from_value(value.clone())
        .map_err(|e| vec![format!("{rel}: bad header: {e}")])?;
    let mut problems = Vec::new();
    if header.tool != tool {
        problems.push(format!(
            "{rel}: written by `{}`, but the {gate} folder is `{tool}`'s",
            header.tool
        ));
    }
    if header.config != config {
        problems.push(format!(
            "{rel}: header says config `{}`, the folder says `{config}`",
            header.config
        ));
    }
    if header.schema_version != cudadent_evidence::SCHEMA_VERSION {
        problems.push(format!(
            "{rel}: schema_version {} (this artifact-check reads {})",
            header.schema_version,
            cudadent_evidence::SCHEMA_VERSION
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Summary {
        gate: gate.to_string(),
        config: config.to_string(),
        rel: rel.to_string(),
        header,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_map_to_archs() {
        assert_eq!(arch_of_device("NVIDIA H100 80GB HBM3"), Some("sm_90"));
        assert_eq!(arch_of_device("NVIDIA A100-SXM4-40GB"), Some("sm_80"));
        assert_eq!(arch_of_device("NVIDIA A10G"), Some("sm_86"));
        assert_eq!(arch_of_device("NVIDIA L40S"), Some("sm_89"));
        assert_eq!(arch_of_device("Some Future GPU"), None);
    }
}
