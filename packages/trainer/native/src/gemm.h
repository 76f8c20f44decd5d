// Single-precision matrix multiply for vaekit's native kernels: C = op(A) op(B) (+ C), blocked and
// packed (BLIS scheme) around a register-tiled micro-kernel written with GCC vector extensions, so the
// compiler emits AVX-512, AVX2, SSE or plain code for the flags of the copy being compiled (isa.h).
#pragma once
#include <cstdint>

namespace vk {
namespace VK_ISA {

/**
 * C[m,n] = sum_k A(i,k) B(k,j) (+ C when accumulate), with A(i,k) = a[i*rsa + k*csa] and
 * B(k,j) = b[k*rsb + j*csb]; C is row-major with leading dimension ldc. Splits the work over the pool
 * when the product is large enough to pay for the hand-off.
 */
void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t rsb,
           int64_t csb, float* c, int64_t ldc, bool accumulate, bool allow_threads = true);

}  // namespace VK_ISA
}  // namespace vk
