//! Problem configs (`configs/*.toml`) and kernel manifests (`kernels/**/NAME.toml`).
//!
//! This crate owns the on-disk formats and their validation, in passes (STYLE.md, habit 4):
//! parse the TOML strictly (unknown keys and wrong types rejected, with file, line and
//! dotted key), then check the config against the kernel manifests it names (files exist,
//! shape supported, archs known). Resolving against the toolchain and the GPU that were
//! found is `kernel-runtime`'s job; each gate interprets its own settings section.
#![deny(missing_docs)]

mod arch;
mod config;
mod error;
mod manifest;

pub use arch::Arch;
pub use config::{
    BenchSettings, Config, DistributionName, InspectSettings, KernelsSection, OracleSettings,
    Problem, ReferenceChoice, SanitizerSettings, SanitizerTool, Suppression, ToleranceSettings,
};
pub use error::ConfigError;
pub use manifest::{
    launch_file_stem, launch_label, Abi, Control, Dtype, Gate, KernelManifest, Launch, LaunchRule,
    DEFAULT_LAUNCH,
};
