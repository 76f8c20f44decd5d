// Fused optimizer updates; see optim.cc.
#pragma once
#include <cstdint>

namespace vk {
/** The float32 scalars of one Adam step, as tfjs rounds them. */
struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, one_minus_acc_beta1, one_minus_acc_beta2, epsilon, neg_lr;
};
#ifdef VK_ISA
namespace VK_ISA {
/** Writes the updated variable, first and second moments (xo, mo, vo) of n elements. */
void adam(const float* x, const float* m, const float* v, const float* g, float* xo, float* mo, float* vo, int64_t n,
          const AdamScalars& s);
}  // namespace VK_ISA
#endif
}  // namespace vk
