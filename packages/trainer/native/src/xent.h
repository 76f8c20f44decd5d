// Fused softmax cross-entropy with integer labels; see xent.cc.
#pragma once
#include <cstdint>

namespace vk {
namespace VK_ISA {
/** loss[n] = logsumexp(logits[n,:]) - logits[n, labels[n]]; lse[n] keeps the log-partition for the gradient. */
void softmax_xent(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t n, int64_t v);
/** dlogits[n,v] = dloss[n] * (exp(logits[n,v] - lse[n]) - [v == labels[n]]). */
void softmax_xent_grad(const float* logits, const int32_t* labels, const float* lse, const float* dloss, float* dlogits,
                       int64_t n, int64_t v);
/** loss[n] = sum_d max(l,0) - l*x + log1p(exp(-|l|)) over rows of [n, d] (Bernoulli NLL with logits). */
void bce_logits_sum(const float* logits, const float* x, float* loss, int64_t n, int64_t d);
/** dl = (sigmoid(l) - x) * dy[n], dx = -l * dy[n] (dx may be null: not written). */
void bce_logits_sum_grad(const float* logits, const float* x, const float* dy, float* dl, float* dx, int64_t n, int64_t d);
}  // namespace VK_ISA
}  // namespace vk
