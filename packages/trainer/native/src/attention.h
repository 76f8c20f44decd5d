// Additive (Bahdanau) attention scores with their gradient; see attention.cc.
#pragma once
#include <cstdint>

namespace vk {
namespace VK_ISA {
/**
 * scores[b,t,s] = sum_a v[a] * tanh(qa[b,t,a] + ka[b,s,a]) for keys with mask[b,s] != 0 (0 for the
 * others; mask may be null: every key counts); E [B,T,S,A] keeps the tanh values for the gradient.
 */
void additive_scores(const float* qa, const float* ka, const float* v, const float* mask, float* scores, float* E,
                     int64_t B, int64_t T, int64_t S, int64_t A);
/** dqa = sum_s, dka = sum_t of ds * v * (1 - E^2); dv = sum ds * E (masked keys take no part). */
void additive_scores_grad(const float* ds, const float* E, const float* v, const float* mask, float* dqa, float* dka,
                          float* dv, int64_t B, int64_t T, int64_t S, int64_t A);
}  // namespace VK_ISA
}  // namespace vk
