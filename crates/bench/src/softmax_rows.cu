// Row softmax for the bench's cuBLAS baseline: probs[r][j] = softmax_j(scores[r][:]),
// fp32 in (already scaled), fp16 out. Row r is query i = r % cols of its head; with
// causal != 0, keys j > i are masked. One block of 256 threads per row.
#include <cuda_fp16.h>

extern "C" __global__ void softmax_rows(const float* scores, __half* probs, int rows, int cols, int causal) {
    int r = blockIdx.x;
    if (r >= rows) return;
    int i = r % cols;
    int limit = causal ? i + 1 : cols;
    const float* s = scores + (size_t)r * cols;
    __half* p = probs + (size_t)r * cols;
    __shared__ float red[32];
    float m = -INFINITY;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) m = fmaxf(m, s[j]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
        if (threadIdx.x == 0) red[0] = v;
    }
    __syncthreads();
    m = red[0];
    __syncthreads();
    float sum = 0.f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) sum += __expf(s[j] - m);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffff, sum, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sum;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
        if (threadIdx.x == 0) red[0] = v;
    }
    __syncthreads();
    float inv = 1.f / red[0];
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        p[j] = __float2half(j < limit ? __expf(s[j] - m) * inv : 0.f);
}
