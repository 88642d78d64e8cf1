//! The repository's planted-bug controls, as the gate finds them: one per sanitizer tool,
//! each able to run the default control config (canon_1).

use std::path::Path;

use cudadent_config::{Config, SanitizerTool};
use sanitizer_gate::controls;

#[test]
fn every_tool_has_a_control_that_runs_canon_1() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = repo.join("kernels/selftest");
    let all = controls::scan(&dir).expect("selftest manifests load");
    let canon_1 = Config::load(&repo.join("configs/canon_1.toml")).expect("canon_1 loads");
    for (tool, name) in [
        (SanitizerTool::Memcheck, "oob_write_far"),
        (SanitizerTool::Racecheck, "sync_race_smem"),
        (SanitizerTool::Initcheck, "uninit_read"),
        (SanitizerTool::Synccheck, "divergent_barrier"),
    ] {
        let mine: Vec<&str> = controls::for_tool(&all, tool)
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(mine, [name], "controls for {}", tool.name());
        let m = controls::for_tool(&all, tool)[0];
        assert_eq!(
            m.unsupported_reason(&canon_1.problem),
            None,
            "{name} on canon_1"
        );
    }
}

#[test]
fn a_missing_folder_has_no_controls() {
    let all = controls::scan(Path::new("/nonexistent/selftest")).expect("no error");
    assert!(all.is_empty());
}
