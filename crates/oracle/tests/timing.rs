//! Time budgets of the CPU side, measured on two threads (the size of the CPU
//! machines). Ignored by default because they mean something only in release mode:
//!
//! ```text
//! cargo test --release -p oracle --test timing -- --ignored --nocapture
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

use oracle::{attention_f16_order, attention_f64, generate, Distribution, Shape};

/// Held by each test, so that the tests do not share the cores while they are timed
/// (the test harness runs them in parallel).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// The budget holds in release mode; in debug the test only reports.
fn assert_within(what: &str, took: Duration, budget: Duration) {
    eprintln!(
        "{what}: {:.3} s (budget {:.1} s)",
        took.as_secs_f64(),
        budget.as_secs_f64()
    );
    if !cfg!(debug_assertions) {
        assert!(took < budget, "{what} took {took:?}, budget {budget:?}");
    }
}

/// canon_3: B2 H8 S512 D64, non-causal.
const CANON_3: Shape = Shape {
    batch: 2,
    heads: 8,
    seq_len: 512,
    head_dim: 64,
    causal: false,
};

#[test]
#[ignore = "timing: run in release with --ignored"]
fn f64_reference_on_canon_3_takes_well_under_2_s() {
    let _serial = serial();
    let inp = generate(&CANON_3, Distribution::Normal, 1).unwrap();
    let pool = two_threads();
    // Best of three, so that a noisy neighbour does not fail the budget.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let out = pool.install(|| attention_f64(&CANON_3, &inp.q, &inp.k, &inp.v, 0.125).unwrap());
        best = best.min(start.elapsed());
        assert_eq!(out.len(), CANON_3.elems());
    }
    assert_within(
        "attention_f64 canon_3 (2 threads)",
        best,
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn f16_order_reference_on_canon_3() {
    let _serial = serial();
    let inp = generate(&CANON_3, Distribution::Normal, 1).unwrap();
    let pool = two_threads();
    let start = Instant::now();
    let out =
        pool.install(|| attention_f16_order(&CANON_3, &inp.q, &inp.k, &inp.v, 0.125).unwrap());
    assert_eq!(out.len(), CANON_3.elems());
    assert_within(
        "attention_f16_order canon_3 (2 threads)",
        start.elapsed(),
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn generating_canon_6_inputs_is_fast() {
    let _serial = serial();
    // canon_6: 16 x 16 x 512 x 64 = 8M elements per tensor.
    let shape = Shape::new(16, 16, 512, 64, false);
    let pool = two_threads();
    for dist in Distribution::ALL {
        let start = Instant::now();
        let inp = pool.install(|| generate(&shape, dist, 3).unwrap());
        assert_eq!(inp.q.len(), 8 << 20);
        assert_within(
            &format!("generate canon_6 {dist} (2 threads)"),
            start.elapsed(),
            Duration::from_secs(2),
        );
    }
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn f64_reference_on_canon_6_for_the_record() {
    let _serial = serial();
    // 16 times canon_3's work: where the GPU fp32 reference starts to pay.
    let shape = Shape::new(16, 16, 512, 64, false);
    let inp = generate(&shape, Distribution::Normal, 1).unwrap();
    let start = Instant::now();
    let out =
        two_threads().install(|| attention_f64(&shape, &inp.q, &inp.k, &inp.v, 0.125).unwrap());
    assert_eq!(out.len(), shape.elems());
    assert_within(
        "attention_f64 canon_6 (2 threads)",
        start.elapsed(),
        Duration::from_secs(20),
    );
}
