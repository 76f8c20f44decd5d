// Fused softmax cross-entropy with integer labels over the last axis (the text VAE's reconstruction
// term): loss[n] = logsumexp(logits[n, :]) - logits[n, label[n]] and its gradient
// dlogits[n, v] = dloss[n] * (softmax(logits[n, :])[v] - [v == label[n]]). Labels outside [0, V) select
// nothing (as tfjs' oneHot), so their loss is the log-partition alone. Rows run in parallel; exp is
// vectorised (the row exponentials are most of the work).
#include "xent.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "isa.h"
#include "parallel.h"
#include "vmath.h"

namespace vk {
namespace VK_ISA {
namespace {

// Sum of exp(row[j] - max) over the row.
float sum_exp(const float* row, int64_t v, float max) {
  vf acc = vf{};
  int64_t j = 0;
  for (; j + VW <= v; j += VW) acc += vexp(*reinterpret_cast<const vfu*>(row + j) - max);
  float s = 0.f;
  for (int k = 0; k < VW; k++) s += acc[k];
  for (; j < v; j++) s += std::exp(row[j] - max);
  return s;
}

struct Job {
  const float* logits;
  const int32_t* labels;
  float* loss;
  float* lse;
  const float* dloss;
  float* dlogits;
  int64_t n, v;
  int parts;
};

void forward_part(void* ctx, int part) {
  const Job& j = *static_cast<Job*>(ctx);
  const int64_t lo = j.n * part / j.parts, hi = j.n * (part + 1) / j.parts;
  for (int64_t r = lo; r < hi; r++) {
    const float* row = j.logits + r * j.v;
    float max = row[0];
    for (int64_t c = 1; c < j.v; c++) max = row[c] > max ? row[c] : max;
    const float l = max + std::log(sum_exp(row, j.v, max));
    j.lse[r] = l;
    const int32_t label = j.labels[r];
    j.loss[r] = (label >= 0 && label < j.v) ? l - row[label] : l;
  }
}

void backward_part(void* ctx, int part) {
  const Job& j = *static_cast<Job*>(ctx);
  const int64_t lo = j.n * part / j.parts, hi = j.n * (part + 1) / j.parts;
  for (int64_t r = lo; r < hi; r++) {
    const float* row = j.logits + r * j.v;
    float* out = j.dlogits + r * j.v;
    const float g = j.dloss[r], l = j.lse[r];
    int64_t c = 0;
    for (; c + VW <= j.v; c += VW)
      *reinterpret_cast<vfu*>(out + c) = vexp(*reinterpret_cast<const vfu*>(row + c) - l) * g;
    for (; c < j.v; c++) out[c] = std::exp(row[c] - l) * g;
    const int32_t label = j.labels[r];
    if (label >= 0 && label < j.v) out[label] -= g;
  }
}

int parts_for(int64_t n, int64_t v) { return n * v < (1 << 16) ? 1 : threads(); }

// log1p(e) for e in [0, 1]: 2 atanh(s) with s = e / (2 + e) in [0, 1/3], odd series to s^17.
inline vf vlog1p01(vf e) {
  const vf s = e / (e + 2.f);
  const vf t = s * s;
  vf p = vf{} + (1.f / 17.f);
  p = p * t + (1.f / 15.f);
  p = p * t + (1.f / 13.f);
  p = p * t + (1.f / 11.f);
  p = p * t + (1.f / 9.f);
  p = p * t + (1.f / 7.f);
  p = p * t + (1.f / 5.f);
  p = p * t + (1.f / 3.f);
  p = p * t + 1.f;
  return 2.f * s * p;
}

struct BceJob {
  const float *logits, *x, *dy;
  float *loss, *dl, *dx;
  int64_t n, d;
  int parts;
};

void bce_forward_part(void* ctx, int part) {
  const BceJob& j = *static_cast<BceJob*>(ctx);
  const int64_t lo = j.n * part / j.parts, hi = j.n * (part + 1) / j.parts;
  for (int64_t r = lo; r < hi; r++) {
    const float* l = j.logits + r * j.d;
    const float* x = j.x + r * j.d;
    vf acc = vf{};
    int64_t c = 0;
    for (; c + VW <= j.d; c += VW) {
      const vf lv = *reinterpret_cast<const vfu*>(l + c);
      const vf xv = *reinterpret_cast<const vfu*>(x + c);
      const vf a = lv < 0.f ? -lv : lv;
      const vf relu = lv > 0.f ? lv : vf{};
      acc += relu - lv * xv + vlog1p01(vexp(-a));
    }
    float s = 0.f;
    for (int k = 0; k < VW; k++) s += acc[k];
    for (; c < j.d; c++) s += (l[c] > 0.f ? l[c] : 0.f) - l[c] * x[c] + std::log1p(std::exp(-std::fabs(l[c])));
    j.loss[r] = s;
  }
}

void bce_backward_part(void* ctx, int part) {
  const BceJob& j = *static_cast<BceJob*>(ctx);
  const int64_t lo = j.n * part / j.parts, hi = j.n * (part + 1) / j.parts;
  for (int64_t r = lo; r < hi; r++) {
    const float* l = j.logits + r * j.d;
    const float* x = j.x + r * j.d;
    float* dl = j.dl + r * j.d;
    float* dx = j.dx ? j.dx + r * j.d : nullptr;
    const float g = j.dy[r];
    int64_t c = 0;
    for (; c + VW <= j.d; c += VW) {
      const vf lv = *reinterpret_cast<const vfu*>(l + c);
      const vf xv = *reinterpret_cast<const vfu*>(x + c);
      const vf e = vexp(lv < 0.f ? lv : -lv);  // exp(-|l|)
      const vf sig = lv >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
      *reinterpret_cast<vfu*>(dl + c) = (sig - xv) * g;
      if (dx) *reinterpret_cast<vfu*>(dx + c) = -lv * g;
    }
    for (; c < j.d; c++) {
      const float e = std::exp(-std::fabs(l[c]));
      const float sig = l[c] >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
      dl[c] = (sig - x[c]) * g;
      if (dx) dx[c] = -l[c] * g;
    }
  }
}

}  // namespace

void bce_logits_sum(const float* logits, const float* x, float* loss, int64_t n, int64_t d) {
  BceJob job{logits, x, nullptr, loss, nullptr, nullptr, n, d, parts_for(n, d)};
  parallel_for(job.parts, bce_forward_part, &job);
}

void bce_logits_sum_grad(const float* logits, const float* x, const float* dy, float* dl, float* dx, int64_t n, int64_t d) {
  BceJob job{logits, x, dy, nullptr, dl, dx, n, d, parts_for(n, d)};
  parallel_for(job.parts, bce_backward_part, &job);
}

void softmax_xent(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t n, int64_t v) {
  Job job{logits, labels, loss, lse, nullptr, nullptr, n, v, parts_for(n, v)};
  parallel_for(job.parts, forward_part, &job);
}

void softmax_xent_grad(const float* logits, const int32_t* labels, const float* lse, const float* dloss, float* dlogits,
                       int64_t n, int64_t v) {
  Job job{logits, labels, nullptr, const_cast<float*>(lse), dloss, dlogits, n, v, parts_for(n, v)};
  parallel_for(job.parts, backward_part, &job);
}

}  // namespace VK_ISA
}  // namespace vk
