// The image VAE's small fused pieces (latent sample + KL, their gradient, ReLU gradient); see vae.cc.
#pragma once
#include <cstdint>

namespace vk {
namespace VK_ISA {
/**
 * Reparameterisation and closed-form KL for [n, zd] mu, logvar and noise: z = mu + exp(logvar / 2) * eps,
 * kl[r] = -0.5 * sum_j (1 + logvar - mu^2 - exp(logvar)).
 */
void vae_latent(const float* mu, const float* lv, const float* eps, float* z, float* kl, int64_t n, int64_t zd);
/**
 * Gradient of `sum_r dz[r,:] . z[r,:] + coef * kl[r]` (coef = dLoss/dkl, the same for every row):
 * dmu = dz + coef * mu, dlv = dz * 0.5 * exp(logvar / 2) * eps + coef * 0.5 * (exp(logvar) - 1).
 */
void vae_latent_grad(const float* mu, const float* lv, const float* eps, const float* dz, float coef, float* dmu, float* dlv,
                     int64_t n, int64_t zd);
/** ReLU gradient through the layer's output y: out = y > 0 ? a + b : 0 (b may be null). */
void relu_grad(const float* y, const float* a, const float* b, float* out, int64_t n);
}  // namespace VK_ISA
}  // namespace vk
