//! Resource use of the oracle's CPU side on canon_4 (issue 11): full inputs for
//! B4 H16 S2048 D128 causal, both references on 4 sampled heads, as the oracle binary does
//! for a config this large. Ignored by default; measured for README.md's "Resource use":
//!
//! ```text
//! cargo test --release -p oracle --test hardening_resources --no-run
//! /usr/bin/time -v target/release/deps/hardening_resources-* --ignored --exact canon_4_sampled_heads
//! ```

use std::time::Instant;

use oracle::{attention_f16_order_heads, attention_f64_heads, generate, Distribution, Shape};

#[test]
#[ignore = "resource measurement: run in release under /usr/bin/time -v"]
fn canon_4_sampled_heads() {
    let shape = Shape {
        batch: 4,
        heads: 16,
        seq_len: 2048,
        head_dim: 128,
        causal: true,
    };
    let heads = [(0, 0), (1, 5), (2, 10), (3, 15)];
    let t = Instant::now();
    let inp = generate(&shape, Distribution::Normal, 1).expect("inputs");
    let generated = t.elapsed();
    let scale = 1.0 / (128f32).sqrt();
    let f64_out =
        attention_f64_heads(&shape, &inp.q, &inp.k, &inp.v, scale, &heads).expect("f64 reference");
    let f64_done = t.elapsed();
    let f16_out = attention_f16_order_heads(&shape, &inp.q, &inp.k, &inp.v, scale, &heads)
        .expect("f16-order reference");
    let total = t.elapsed();
    assert_eq!(f64_out.len(), 4 * 2048 * 128);
    assert_eq!(f16_out.len(), f64_out.len());
    eprintln!(
        "canon_4, 4 heads: inputs {:.2} s, f64 reference {:.2} s, f16-order reference {:.2} s, total {:.2} s",
        generated.as_secs_f64(),
        (f64_done - generated).as_secs_f64(),
        (total - f64_done).as_secs_f64(),
        total.as_secs_f64()
    );
}
