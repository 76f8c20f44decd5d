// The image VAE's small fused pieces: the reparameterised latent sample with its closed-form KL, their
// gradient, and the ReLU gradient of a dense layer (with the sum of two incoming gradients folded in).
// The TypeScript side (src/kernels/dense-vae.ts) chains these with sgemm into the whole dense VAE loss
// and its gradient. Element-wise loops, vectorised by the compiler for the copy's instruction set.
#include "vae.h"

#include <cmath>

#include "isa.h"

namespace vk {
namespace VK_ISA {

void vae_latent(const float* mu, const float* lv, const float* eps, float* z, float* kl, int64_t n, int64_t zd) {
  for (int64_t r = 0; r < n; r++) {
    float s = 0.f;
    for (int64_t j = r * zd; j < (r + 1) * zd; j++) {
      const float e = std::exp(lv[j]);
      z[j] = mu[j] + std::exp(lv[j] * 0.5f) * eps[j];
      s += 1.f + lv[j] - mu[j] * mu[j] - e;
    }
    kl[r] = -0.5f * s;
  }
}

void vae_latent_grad(const float* mu, const float* lv, const float* eps, const float* dz, float coef, float* dmu, float* dlv,
                     int64_t n, int64_t zd) {
  const int64_t total = n * zd;
  for (int64_t j = 0; j < total; j++) {
    dmu[j] = dz[j] + coef * mu[j];
    dlv[j] = dz[j] * 0.5f * std::exp(lv[j] * 0.5f) * eps[j] + coef * 0.5f * (std::exp(lv[j]) - 1.f);
  }
}

void relu_grad(const float* y, const float* a, const float* b, float* out, int64_t n) {
  if (b)
    for (int64_t i = 0; i < n; i++) out[i] = y[i] > 0.f ? a[i] + b[i] : 0.f;
  else
    for (int64_t i = 0; i < n; i++) out[i] = y[i] > 0.f ? a[i] : 0.f;
}

}  // namespace VK_ISA
}  // namespace vk
