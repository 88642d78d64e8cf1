//! Fixtures shared by the config tests: a manifest and a config that load cleanly, which
//! each test then breaks in one place.

/// A valid kernel manifest (`k.toml`, source `k.cu` beside it).
pub const GOOD_MANIFEST: &str = r#"name = "k"
source = "k.cu"
entry = "k_fwd"
abi = "attention_fwd_v1"
block_m = 64
threads = 128
head_dims = [64, 128]
dtypes = ["f16"]
seq_multiple = 1
min_arch = "sm_80"
tensor_cores = false

[dynamic_shared_bytes]
"64" = 1024
"#;

/// A valid config naming `k.toml`.
pub const GOOD_CONFIG: &str = r#"name = "t"

[problem]
batch = 2
heads = 8
seq_len = 512
head_dim = 64
causal = false
dtype = "f16"

[kernels]
under_test = ["k.toml"]
archs = ["sm_80", "sm_90"]
"#;
