// uninit_read: negative control for the initcheck gate.
//
// Bug: reads global memory that nothing has written.
//
// How we get such memory: the kernel only receives Q, K, V, O, and the oracle initialises all of
// them (inputs by memcpy, O poisoned with NaN, guard bands filled). Module-scope __device__
// arrays don't work either: they are zero-filled when the module loads, so initcheck may count
// them as initialised. So one thread takes a fresh block from the device heap with in-kernel
// malloc() and reads it before writing it. Device-heap allocations start uninitialised, and
// compute-sanitizer tracks them (patched device malloc/free, --check-device-heap, on by default),
// so initcheck should report
//     "Uninitialized __global__ memory read of size 4 bytes"
// once per launch. The value is only copied within the scratch block (volatile, so the load stays
// in the SASS), so the attention output is still correct.
#include "common.cuh"

struct UninitRead : st::Correct {
    __device__ static void epilogue() {
        if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0) {
            volatile float* scratch = static_cast<volatile float*>(malloc(32 * sizeof(float)));
            if (scratch != nullptr) {
                // correct code would first do: scratch[0] = 0.f;
                scratch[1] = scratch[0];  // PLANTED BUG: reads scratch[0], which nothing has written
                free(const_cast<float*>(scratch));
            }
        }
    }
};

ST_ATTENTION_ENTRY(uninit_read_fwd, UninitRead)
