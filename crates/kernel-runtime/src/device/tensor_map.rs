//! Tensor maps of ABI `attention_fwd_tma_v1`: K and V described for the Tensor Memory
//! Accelerator, encoded on the host with `cuTensorMapEncodeTiled` and passed to the kernel
//! by value (`__grid_constant__ CUtensorMap`). The ABI fixes the geometry (kernels/README.md),
//! so a kernel can rely on it without the manifest saying more.

use std::ffi::c_void;

use cudadent_config::Problem;
use cudarc::driver::sys;

/// The view ABI `attention_fwd_tma_v1` gives a kernel of K and of V: the [B, H, S, D] fp16
/// buffer as a 3-D tensor {D, S, B*H} (innermost first), copied in boxes of 64 columns x 64
/// rows of one head, 128-byte swizzled, rows past S of a head read as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvMapGeometry {
    /// Elements per dimension, innermost first: D, S, B*H.
    pub dims: [u64; 3],
    /// Bytes between consecutive rows (S index) and heads (B*H index).
    pub strides_bytes: [u64; 2],
    /// Box (one TMA copy) per dimension: 64 columns, 64 rows, one head.
    pub box_dims: [u32; 3],
}

/// The ABI's geometry for `problem` (fp16 elements).
pub fn kv_map_geometry(problem: &Problem) -> KvMapGeometry {
    let d = u64::from(problem.head_dim);
    let s = u64::from(problem.seq_len);
    KvMapGeometry {
        dims: [d, s, u64::from(problem.batch) * u64::from(problem.heads)],
        strides_bytes: [d * 2, s * d * 2],
        box_dims: [64, 64, 1],
    }
}

/// A `CUtensorMap` as a kernel argument: 128 opaque bytes, 128-byte aligned.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct TensorMapArg(sys::CUtensorMap);

// SAFETY: `TensorMapArg` is `#[repr(transparent)]` over `CUtensorMap`, which is
// `#[repr(C, align(128))]` plain data (16 x u64); the kernel declares the parameter as a
// `__grid_constant__ CUtensorMap` of the same size and alignment, and the launch copies the
// bytes at the argument's address.
unsafe impl cudarc::driver::DeviceRepr for TensorMapArg {}

/// Encodes the ABI's tensor map of the K or V buffer at device address `address`; the error
/// is the driver's result code.
pub fn encode_kv_map(address: u64, problem: &Problem) -> Result<TensorMapArg, String> {
    let g = kv_map_geometry(problem);
    let element_strides: [u32; 3] = [1, 1, 1];
    let mut map = sys::CUtensorMap { opaque: [0; 16] };
    // SAFETY:
    // 1. The driver library is loaded (a context exists before any kernel is launched).
    // 2. `map` is a writable CUtensorMap; the dimension, stride, box and element-stride
    //    arrays have `rank` = 3 (dims, box, element strides) and `rank - 1` = 2 (strides)
    //    entries and outlive the call.
    // 3. `address` is a device allocation of B*H*S*D fp16 elements (the caller's buffer);
    //    the driver validates alignment and strides and returns an error code otherwise.
    let r = unsafe {
        sys::cuTensorMapEncodeTiled(
            &mut map,
            sys::CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
            3,
            address as *mut c_void,
            g.dims.as_ptr(),
            g.strides_bytes.as_ptr(),
            g.box_dims.as_ptr(),
            element_strides.as_ptr(),
            sys::CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
            sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
            sys::CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            sys::CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        )
    };
    if r == sys::CUresult::CUDA_SUCCESS {
        Ok(TensorMapArg(map))
    } else {
        Err(format!("cuTensorMapEncodeTiled: {r:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cudadent_config::Dtype;

    #[test]
    fn canon_6_is_a_tensor_of_256_heads_of_512_rows_of_64_halves() {
        let p = Problem {
            batch: 16,
            heads: 16,
            seq_len: 512,
            head_dim: 64,
            causal: false,
            dtype: Dtype::F16,
        };
        let g = kv_map_geometry(&p);
        assert_eq!(g.dims, [64, 512, 256]);
        assert_eq!(g.strides_bytes, [128, 65536]);
        assert_eq!(g.box_dims, [64, 64, 1]);
    }

    #[test]
    fn head_dim_128_is_two_boxes_wide() {
        let p = Problem {
            batch: 4,
            heads: 16,
            seq_len: 2048,
            head_dim: 128,
            causal: true,
            dtype: Dtype::F16,
        };
        let g = kv_map_geometry(&p);
        assert_eq!(g.dims, [128, 2048, 64]);
        assert_eq!(g.strides_bytes, [256, 2048 * 256]);
        assert_eq!(
            u64::from(g.box_dims[0]) * 2,
            128,
            "one box row is one 128-byte swizzle atom"
        );
    }
}
