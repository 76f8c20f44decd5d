// Additive (Bahdanau) attention scores, the translator's attention layer (models/attention.ts):
// scores[b,t,s] = v . tanh(qa[b,t,:] + ka[b,s,:]) with qa = query Wq, ka = keys Wk computed by the caller
// (two matrix products). In tfjs this is a broadcast add and a tanh over a [B,T,S,A] tensor, then a
// product with v, and the gradient several more passes over it; here each direction is one pass, the
// tanh vectorised, the padded keys (mask 0) skipped: their score is left at 0, and the layer adds its
// -1e9 penalty before the softmax, so their weights are exactly 0 either way (and so is their gradient).
// Batch rows run in parallel.
#include "attention.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>

#include "isa.h"
#include "parallel.h"
#include "vmath.h"

namespace vk {
namespace VK_ISA {
namespace {

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|) (vexp's argument is <= 0); absolute error ~1e-7.
inline vf vtanh(vf x) {
  const vf ax = x < 0.f ? -x : x;
  const vf e = vexp(ax * -2.f);
  const vf r = (1.f - e) / (1.f + e);
  return x < 0.f ? -r : r;
}

inline float stanh(float x) {
  const float ax = std::fabs(x);
  const float e = std::exp(-2.f * ax);
  const float r = (1.f - e) / (1.f + e);
  return x < 0.f ? -r : r;
}

struct Job {
  const float *qa, *ka, *v, *mask, *ds, *E;
  float *scores, *Eout, *dqa, *dka, *dvParts;
  int64_t B, T, S, A;
  int parts;
};

void forward_part(void* ctx, int part) {
  const Job& j = *static_cast<Job*>(ctx);
  const int64_t T = j.T, S = j.S, A = j.A;
  const int64_t lo = j.B * part / j.parts, hi = j.B * (part + 1) / j.parts;
  for (int64_t b = lo; b < hi; b++) {
    for (int64_t t = 0; t < T; t++) {
      const float* q = j.qa + (b * T + t) * A;
      for (int64_t s = 0; s < S; s++) {
        float* e = j.Eout + ((b * T + t) * S + s) * A;
        float* out = j.scores + (b * T + t) * S + s;
        if (j.mask && j.mask[b * S + s] == 0.f) {
          std::memset(e, 0, sizeof(float) * A);
          *out = 0.f;
          continue;
        }
        const float* k = j.ka + (b * S + s) * A;
        vf acc = vf{};
        int64_t a = 0;
        for (; a + VW <= A; a += VW) {
          const vf x = vtanh(*reinterpret_cast<const vfu*>(q + a) + *reinterpret_cast<const vfu*>(k + a));
          *reinterpret_cast<vfu*>(e + a) = x;
          acc += x * *reinterpret_cast<const vfu*>(j.v + a);
        }
        float sum = 0.f;
        for (int l = 0; l < VW; l++) sum += acc[l];
        for (; a < A; a++) {
          e[a] = stanh(q[a] + k[a]);
          sum += e[a] * j.v[a];
        }
        *out = sum;
      }
    }
  }
}

void backward_part(void* ctx, int part) {
  const Job& j = *static_cast<Job*>(ctx);
  const int64_t T = j.T, S = j.S, A = j.A;
  const int64_t lo = j.B * part / j.parts, hi = j.B * (part + 1) / j.parts;
  float* dv = j.dvParts + part * A;
  std::memset(dv, 0, sizeof(float) * A);
  for (int64_t b = lo; b < hi; b++) {
    std::memset(j.dqa + b * T * A, 0, sizeof(float) * T * A);
    std::memset(j.dka + b * S * A, 0, sizeof(float) * S * A);
    for (int64_t t = 0; t < T; t++) {
      float* dq = j.dqa + (b * T + t) * A;
      for (int64_t s = 0; s < S; s++) {
        if (j.mask && j.mask[b * S + s] == 0.f) continue;
        const float g = j.ds[(b * T + t) * S + s];
        if (g == 0.f) continue;
        const float* e = j.E + ((b * T + t) * S + s) * A;
        float* dk = j.dka + (b * S + s) * A;
        int64_t a = 0;
        for (; a + VW <= A; a += VW) {
          const vf x = *reinterpret_cast<const vfu*>(e + a);
          const vf vv = *reinterpret_cast<const vfu*>(j.v + a);
          const vf d = (1.f - x * x) * vv * g;
          *reinterpret_cast<vfu*>(dq + a) += d;
          *reinterpret_cast<vfu*>(dk + a) += d;
          *reinterpret_cast<vfu*>(dv + a) += x * g;
        }
        for (; a < A; a++) {
          const float d = (1.f - e[a] * e[a]) * j.v[a] * g;
          dq[a] += d;
          dk[a] += d;
          dv[a] += e[a] * g;
        }
      }
    }
  }
}

int parts_for(int64_t B) {
  const int n = threads();
  return static_cast<int>(B < n ? (B > 0 ? B : 1) : n);
}

}  // namespace

void additive_scores(const float* qa, const float* ka, const float* v, const float* mask, float* scores, float* E,
                     int64_t B, int64_t T, int64_t S, int64_t A) {
  Job j{qa, ka, v, mask, nullptr, nullptr, scores, E, nullptr, nullptr, nullptr, B, T, S, A, parts_for(B)};
  parallel_for(j.parts, forward_part, &j);
}

void additive_scores_grad(const float* ds, const float* E, const float* v, const float* mask, float* dqa, float* dka,
                          float* dv, int64_t B, int64_t T, int64_t S, int64_t A) {
  const int parts = parts_for(B);
  // Per-part sums of dv (no std::vector: its out-of-line template code would be a weak symbol shared
  // by the instruction-set copies).
  float* partial = static_cast<float*>(std::malloc(sizeof(float) * parts * A));
  Job j{nullptr, nullptr, v, mask, ds, E, nullptr, nullptr, dqa, dka, partial, B, T, S, A, parts};
  parallel_for(parts, backward_part, &j);
  for (int64_t a = 0; a < A; a++) {
    float s = 0.f;
    for (int p = 0; p < parts; p++) s += partial[p * A + a];
    dv[a] = s;
  }
  std::free(partial);
}

}  // namespace VK_ISA
}  // namespace vk
