// Token negative log-likelihood through a sentence decoder's output layer, for evaluation (the
// importance-weighted bound decodes every test sentence hundreds of times, and this product is almost
// all of the work): nll[i] = logsumexp(y_i W + b) - (y_i W + b)[label_i] for the gathered rows
// y_i = y[rows[i], :], without ever storing the [n, V] logits.
//
// Blocking: W is packed once per call into column panels of NR (the bias folded into the accumulators'
// start value, padding columns given a bias of -inf so they add nothing to the partition). Rows are taken
// in chunks of MC by the threads (dynamically, so a busy core takes fewer); within a chunk, for each
// block of NC columns (its panels stay in L2 across the chunk's rows) the micro-kernel computes MR x NR
// tiles over the whole hidden size into an MR x NC tile kept in L1, which is folded at once into each
// row's running log-sum-exp (max and scaled sum, rescaled when a block raises the max). Every row is
// computed the same way wherever it falls, so the result does not depend on the thread count.
#include "nll.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "isa.h"
#include "parallel.h"
#include "vmath.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vk {
namespace VK_ISA {
namespace {

// Two vectors of columns per panel; rows per micro-tile chosen to fill the register file with
// accumulators (AVX-512: 12 x 2 of 32 zmm; AVX2/SSE: 6 x 2 of 16).
constexpr int NR = 2 * VW;
#if defined(__AVX512F__)
constexpr int TR = 12;
#else
constexpr int TR = 6;
#endif
constexpr int64_t MC = TR * 8;              // rows per chunk (the packed rows stay in L2)
constexpr int64_t NC = NR * (256 / NR > 0 ? 256 / NR : 1);  // columns per block: 256 (a multiple of NR)

// acc[TR x NR] = bias + A_panel (k-major, TR per step) * B_panel (k-major, NR per step), stored to c;
// vmax[i] keeps the lane-wise running maximum of row i (taken while the values are in registers).
inline void tile(int64_t h, const float* __restrict ap, const float* __restrict bp, const float* __restrict bias,
                 float* __restrict c, int64_t ldc, vf* __restrict vmax) {
  vf acc[TR][2];
  const vf b0 = *reinterpret_cast<const vf*>(bias);
  const vf b1 = *reinterpret_cast<const vf*>(bias + VW);
  for (int i = 0; i < TR; i++) {
    acc[i][0] = b0;
    acc[i][1] = b1;
  }
  for (int64_t p = 0; p < h; p++) {
    const vf w0 = reinterpret_cast<const vf*>(bp)[0];
    const vf w1 = reinterpret_cast<const vf*>(bp)[1];
#pragma GCC unroll 16
    for (int i = 0; i < TR; i++) {
      const float av = ap[i];
      acc[i][0] += w0 * av;
      acc[i][1] += w1 * av;
    }
    ap += TR;
    bp += NR;
  }
  for (int i = 0; i < TR; i++) {
    *reinterpret_cast<vfu*>(c + i * ldc) = acc[i][0];
    *reinterpret_cast<vfu*>(c + i * ldc + VW) = acc[i][1];
    const vf m = acc[i][0] > acc[i][1] ? acc[i][0] : acc[i][1];
    vmax[i] = m > vmax[i] ? m : vmax[i];
  }
}

#if defined(__AVX512F__)
// exp(x) for x <= 0 (logits minus their row maximum) as 2^n 2^r, n = round(x log2 e), |r| <= 1/2, with
// vscalefps; degree-6 Taylor polynomial of 2^r (relative error below 2e-7). x is clamped at -100 first
// (exp(-100) ~ 4e-44 adds nothing to a sum that holds a 1), so -inf (padding columns) gives ~0, not NaN.
inline vf fast_exp(vf xv) {
  __m512 x = _mm512_max_ps((__m512)xv, _mm512_set1_ps(-100.f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.6181291076284772e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022650695910071e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9314718055994531e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return (vf)_mm512_scalef_ps(p, n);
}
#else
inline vf fast_exp(vf x) { return vexp(x); }
#endif

float hmax(vf m) {
  float r = m[0];
  for (int k = 1; k < VW; k++) r = m[k] > r ? m[k] : r;
  return r;
}

float row_sum_exp(const float* x, int64_t n, float max) {
  vf acc = vf{};
  int64_t j = 0;
  for (; j + VW <= n; j += VW) acc += fast_exp(*reinterpret_cast<const vfu*>(x + j) - max);
  float s = 0.f;
  for (int k = 0; k < VW; k++) s += acc[k];
  for (; j < n; j++) s += std::exp(x[j] - max);
  return s;
}

float* alloc(int64_t n) { return static_cast<float*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64)); }

struct Job {
  const float* y;
  const int32_t* rows;
  const int32_t* labels;
  int64_t n, h, v, vp;  // vp: columns padded to a multiple of NR
  const float* wp;      // packed W [vp / NR][h][NR]
  const float* bp;      // bias [vp], -inf in the padding
  float* nll;
  int64_t next_chunk;  // shared counter (atomic builtins)
  int64_t chunks;
  int64_t pack_panels;
  const float* w;
  const float* bias;
};

void pack_part(void* ctx, int part) {
  Job& j = *static_cast<Job*>(ctx);
  const int parts = threads();
  const int64_t lo = j.pack_panels * part / parts, hi = j.pack_panels * (part + 1) / parts;
  float* wp = const_cast<float*>(j.wp);
  float* bp = const_cast<float*>(j.bp);
  for (int64_t q = lo; q < hi; q++) {
    const int64_t c0 = q * NR, cols = std::min<int64_t>(NR, j.v - c0);
    float* dst = wp + q * j.h * NR;
    for (int64_t p = 0; p < j.h; p++) {
      std::memcpy(dst + p * NR, j.w + p * j.v + c0, cols * sizeof(float));
      for (int64_t c = cols; c < NR; c++) dst[p * NR + c] = 0.f;
    }
    for (int64_t c = 0; c < NR; c++) bp[c0 + c] = c < cols ? j.bias[c0 + c] : -INFINITY;
  }
}

void chunk_part(void* ctx, int) {
  Job& j = *static_cast<Job*>(ctx);
  float* ap = alloc(MC * j.h);
  float* ct = alloc(TR * NC);
  float mx[MC], sm[MC], tg[MC];
  for (;;) {
    const int64_t chunk = __atomic_fetch_add(&j.next_chunk, 1, __ATOMIC_RELAXED);
    if (chunk >= j.chunks) break;
    const int64_t r0 = chunk * MC, mc = std::min<int64_t>(MC, j.n - r0);
    const int64_t panels = (mc + TR - 1) / TR;
    // Pack the chunk's rows into TR-row panels, k-major, zero rows past the end.
    for (int64_t ip = 0; ip < panels; ip++) {
      float* dst = ap + ip * TR * j.h;
      for (int i = 0; i < TR; i++) {
        const int64_t r = ip * TR + i;
        if (r < mc) {
          const float* src = j.y + static_cast<int64_t>(j.rows[r0 + r]) * j.h;
          for (int64_t p = 0; p < j.h; p++) dst[p * TR + i] = src[p];
        } else {
          for (int64_t p = 0; p < j.h; p++) dst[p * TR + i] = 0.f;
        }
      }
    }
    for (int64_t r = 0; r < mc; r++) {
      mx[r] = -INFINITY;
      sm[r] = 0.f;
      tg[r] = 0.f;
    }
    for (int64_t jc = 0; jc < j.vp; jc += NC) {
      const int64_t nc = std::min<int64_t>(NC, j.vp - jc);
      for (int64_t ip = 0; ip < panels; ip++) {
        vf vmax[TR];
        for (int i = 0; i < TR; i++) vmax[i] = vf{} - INFINITY;
        for (int64_t jr = 0; jr < nc; jr += NR)
          tile(j.h, ap + ip * TR * j.h, j.wp + (jc + jr) * j.h, j.bp + jc + jr, ct + jr, NC, vmax);
        const int64_t rows = std::min<int64_t>(TR, mc - ip * TR);
        for (int64_t i = 0; i < rows; i++) {
          const int64_t r = ip * TR + i;
          const float* x = ct + i * NC;
          const float bm = hmax(vmax[i]);
          if (bm > mx[r]) {
            sm[r] = mx[r] == -INFINITY ? 0.f : sm[r] * std::exp(mx[r] - bm);
            mx[r] = bm;
          }
          if (mx[r] != -INFINITY) sm[r] += row_sum_exp(x, nc, mx[r]);
          const int64_t label = j.labels[r0 + r];
          if (label >= jc && label < jc + nc && label < j.v) tg[r] = x[label - jc];
        }
      }
    }
    for (int64_t r = 0; r < mc; r++) {
      const int64_t label = j.labels[r0 + r];
      const float lse = mx[r] + std::log(sm[r]);
      j.nll[r0 + r] = (label >= 0 && label < j.v) ? lse - tg[r] : lse;
    }
  }
  std::free(ap);
  std::free(ct);
}

}  // namespace

void logits_nll(const float* y, const int32_t* rows, const int32_t* labels, int64_t n, const float* w, const float* bias,
                int64_t h, int64_t v, float* nll) {
  if (n <= 0) return;
  const int64_t vp = (v + NR - 1) / NR * NR;
  float* wp = alloc(vp * h);
  float* bp = alloc(vp);
  Job job{y, rows, labels, n, h, v, vp, wp, bp, nll, 0, (n + MC - 1) / MC, vp / NR, w, bias};
  parallel_for(threads(), pack_part, &job);
  parallel_for(threads(), chunk_part, &job);
  std::free(wp);
  std::free(bp);
}

}  // namespace VK_ISA
}  // namespace vk
