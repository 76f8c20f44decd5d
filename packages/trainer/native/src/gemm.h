// Single-precision matrix multiply for vaekit's native kernels: C = op(A) op(B) (+ C), blocked and
// packed (BLIS scheme) around a register-tiled micro-kernel written with GCC vector extensions, so the
// compiler emits AVX-512, AVX2 or SSE code for the machine it is built on (-march=native at install).
#pragma once
#include <cstdint>

namespace vk {

/** Threads used by the kernels (1 .. hardware concurrency); the pool is created on first use. */
void set_threads(int n);
int threads();

/**
 * C[m,n] = sum_k A(i,k) B(k,j) (+ C when accumulate), with A(i,k) = a[i*rsa + k*csa] and
 * B(k,j) = b[k*rsb + j*csb]; C is row-major with leading dimension ldc. Splits the work over the pool
 * when the product is large enough to pay for the hand-off.
 */
void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t rsb,
           int64_t csb, float* c, int64_t ldc, bool accumulate, bool allow_threads = true);

/** Runs fn(0..parts-1) over the pool (part 0 on the caller) and waits for all of them. */
void parallel_for(int parts, void (*fn)(void*, int), void* ctx);

}  // namespace vk
