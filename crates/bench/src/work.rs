//! What one attention forward must do, and how fast that could possibly be: FLOPs,
//! bytes moved, achieved throughput, and the floor below which a time is not credible.

use cudadent_config::Problem;
use serde::{Deserialize, Serialize};

/// Arithmetic and memory traffic of one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Work {
    /// `4 * B * H * S^2 * D` (two GEMMs of 2 flops per multiply-add), halved for causal.
    pub flops: f64,
    /// Q, K, V read once and O written once: `4 * B * H * S * D * 2` bytes for fp16.
    pub bytes: f64,
}

impl Work {
    /// The work of `p`.
    pub fn of(p: &Problem) -> Work {
        let bhsd = p.batch as f64 * p.heads as f64 * p.seq_len as f64 * p.head_dim as f64;
        let full = 4.0 * bhsd * p.seq_len as f64;
        Work {
            flops: if p.causal { full / 2.0 } else { full },
            bytes: 4.0 * bhsd * 2.0,
        }
    }

    /// Achieved TFLOP/s at `us` microseconds per pass.
    pub fn tflops(&self, us: f64) -> f64 {
        self.flops / (us * 1e-6) / 1e12
    }

    /// Achieved GB/s (10^9 bytes) at `us` microseconds per pass.
    pub fn gbs(&self, us: f64) -> f64 {
        self.bytes / (us * 1e-6) / 1e9
    }
}

/// The device's peaks as measured in this run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    /// Device-to-device copy bandwidth, GB/s (bytes read + written per second).
    pub bandwidth_gbs: Option<f64>,
    /// Large fp16 GEMM throughput through cuBLAS, TFLOP/s.
    pub tflops: Option<f64>,
}

/// A measured peak can be beaten a little by a good kernel (the GEMM probe does not reach
/// the tensor cores' theoretical rate, a copy does not reach the memory's). A time is
/// below the floor only when it beats the measured peaks by more than this factor.
pub const FLOOR_SLACK: f64 = 1.5;

/// The floor, in microseconds, for one pass of `work` given `peaks`.
///
/// `cold` is true when L2 was flushed before the sample: only then must the bytes come
/// from device memory, so only then does the bandwidth peak bound the time (in hot mode
/// the inputs may sit in L2). `None` when no usable peak is known.
pub fn floor_us(work: &Work, peaks: &Peaks, cold: bool) -> Option<f64> {
    let by_flops = peaks
        .tflops
        .filter(|t| *t > 0.0)
        .map(|t| work.flops / (t * 1e12 * FLOOR_SLACK) * 1e6);
    let by_bytes = peaks
        .bandwidth_gbs
        .filter(|b| *b > 0.0 && cold)
        .map(|b| work.bytes / (b * 1e9 * FLOOR_SLACK) * 1e6);
    match (by_flops, by_bytes) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// KernelBench's rule: a speed-up this large over the fastest baseline is suspect.
pub const SUSPECT_SPEEDUP: f64 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;
    use cudadent_config::Dtype;

    fn canon_3() -> Problem {
        Problem {
            batch: 2,
            heads: 8,
            seq_len: 512,
            head_dim: 64,
            causal: false,
            dtype: Dtype::F16,
        }
    }

    #[test]
    fn canon_3_moves_4_mib_and_does_1_07_gflop() {
        let w = Work::of(&canon_3());
        assert_eq!(w.bytes, 4.0 * 1024.0 * 1024.0);
        assert_eq!(w.flops, 1_073_741_824.0);
        let causal = Work::of(&Problem {
            causal: true,
            ..canon_3()
        });
        assert_eq!(causal.flops, 536_870_912.0);
        assert_eq!(causal.bytes, w.bytes);
    }

    #[test]
    fn throughput_at_ten_microseconds() {
        let w = Work::of(&canon_3());
        assert!((w.tflops(10.0) - 107.374_182_4).abs() < 1e-6);
        assert!((w.gbs(10.0) - 419.430_4).abs() < 1e-6);
    }

    #[test]
    fn floor_takes_the_larger_bound_and_ignores_bandwidth_when_hot() {
        let w = Work::of(&canon_3());
        // H100-like measured peaks: 3000 GB/s copy, 600 TFLOP/s GEMM.
        let p = Peaks {
            bandwidth_gbs: Some(3000.0),
            tflops: Some(600.0),
        };
        let bytes_floor = 4_194_304.0 / (3000e9 * FLOOR_SLACK) * 1e6; // 0.932 us
        let flops_floor = 1_073_741_824.0 / (600e12 * FLOOR_SLACK) * 1e6; // 1.193 us
        assert!((floor_us(&w, &p, true).unwrap() - flops_floor.max(bytes_floor)).abs() < 1e-12);
        assert!((floor_us(&w, &p, false).unwrap() - flops_floor).abs() < 1e-12);
        let bw_only = Peaks { tflops: None, ..p };
        assert!((floor_us(&w, &bw_only, true).unwrap() - bytes_floor).abs() < 1e-12);
        assert_eq!(floor_us(&w, &bw_only, false), None);
        assert_eq!(
            floor_us(
                &w,
                &Peaks {
                    bandwidth_gbs: None,
                    tflops: None
                },
                true
            ),
            None
        );
    }
}
