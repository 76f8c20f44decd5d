// Fused Adam update: one pass over a variable, its two moments and its gradient, in exactly the
// operation order and float32 rounding of tfjs' AdamOptimizer.applyGradients (no FMA contraction), so a
// run gives the same numbers as tfjs' own per-op update:
//   m' = m*b1 + g*(1-b1);  v' = v*b2 + (g*g)*(1-b2)
//   x' = ((m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps)) * (-lr) + x
#pragma GCC optimize("fp-contract=off")
#include "optim.h"

#include <cmath>

#include "parallel.h"

namespace vk {
namespace VK_ISA {
namespace {

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
  for (int64_t i = lo; i < hi; i++) {
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
