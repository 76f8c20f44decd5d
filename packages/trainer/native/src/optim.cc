// Fused Adam update: one pass over a variable, its two moments and its gradient, in exactly the
// operation order and float32 rounding of tfjs' AdamOptimizer.applyGradients (no FMA contraction), so a
// run gives the same numbers as tfjs' own per-op update:
//   m' = m*b1 + g*(1-b1);  v' = v*b2 + (g*g)*(1-b2)
//   x' = ((m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps)) * (-lr) + x
#pragma GCC optimize("fp-contract=off")
#include "optim.h"

#include <cmath>

#include "isa.h"
#include "parallel.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace vk {
namespace VK_ISA {
namespace {

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));

inline vf vsqrt(vf x) {
#if defined(__AVX512F__)
  return (vf)_mm512_sqrt_ps((__m512)x);
#elif defined(__AVX__)
  return (vf)_mm256_sqrt_ps((__m256)x);
#elif defined(__SSE2__) && !defined(VK_SCALAR)
  return (vf)_mm_sqrt_ps((__m128)x);
#else
  vf r;
  for (int k = 0; k < VW; k++) r[k] = std::sqrt(x[k]);
  return r;
#endif
}

struct AdamJob {
  const float *x, *m, *v, *g;
  float *xo, *mo, *vo;
  int64_t n;
  AdamScalars s;
  int parts;
};

void adam_part(void* ctx, int part) {
  const AdamJob& j = *static_cast<AdamJob*>(ctx);
  const int64_t lo = j.n * part / j.parts, hi = j.n * (part + 1) / j.parts;
  const AdamScalars s = j.s;
  int64_t i = lo;
  // Whole vectors first: every lane does the scalar loop's operations in the same order (IEEE division
  // and square root are correctly rounded either way, no contraction), so the results are identical.
  // Each vector is loaded before it is stored, so in-place updates (xo == x, ...) stay correct.
  for (; i + VW <= hi; i += VW) {
    const vf g = *reinterpret_cast<const vfu*>(j.g + i);
    const vf m = *reinterpret_cast<const vfu*>(j.m + i) * s.beta1 + g * s.one_minus_beta1;
    const vf v = *reinterpret_cast<const vfu*>(j.v + i) * s.beta2 + (g * g) * s.one_minus_beta2;
    const vf mh = m / s.one_minus_acc_beta1;
    const vf vh = v / s.one_minus_acc_beta2;
    const vf x = *reinterpret_cast<const vfu*>(j.x + i);
    *reinterpret_cast<vfu*>(j.mo + i) = m;
    *reinterpret_cast<vfu*>(j.vo + i) = v;
    *reinterpret_cast<vfu*>(j.xo + i) = (mh / (vsqrt(vh) + s.epsilon)) * s.neg_lr + x;
  }
  for (; i < hi; i++) {
    const float g = j.g[i];
    const float m = j.m[i] * s.beta1 + g * s.one_minus_beta1;
    const float v = j.v[i] * s.beta2 + (g * g) * s.one_minus_beta2;
    const float mh = m / s.one_minus_acc_beta1;
    const float vh = v / s.one_minus_acc_beta2;
    j.mo[i] = m;
    j.vo[i] = v;
    j.xo[i] = (mh / (std::sqrt(vh) + s.epsilon)) * s.neg_lr + j.x[i];
  }
}

}  // namespace

void adam(const float* x, const float* m, const float* v, const float* g, float* xo, float* mo, float* vo, int64_t n,
          const AdamScalars& s) {
  AdamJob job{x, m, v, g, xo, mo, vo, n, s, n < (1 << 17) ? 1 : threads()};
  parallel_for(job.parts, adam_part, &job);
}

}  // namespace VK_ISA
}  // namespace vk
