// Token negative log-likelihood through a decoder's output layer, for evaluation; see nll.cc.
#pragma once
#include <cstdint>

namespace vk {
namespace VK_ISA {
/**
 * nll[i] = logsumexp(l_i) - l_i[labels[i]] with l_i = y[rows[i], :] W + bias, for i < n; y [*, h] row-major,
 * W [h, v] row-major, bias [v]. A label outside [0, v) selects nothing (the loss is the log-partition, as
 * softmax_xent). The [n, v] logits are never stored. Threads over rows; the result does not depend on
 * their number.
 */
void logits_nll(const float* y, const int32_t* rows, const int32_t* labels, int64_t n, const float* w, const float* bias,
                int64_t h, int64_t v, float* nll);
}  // namespace VK_ISA
}  // namespace vk
