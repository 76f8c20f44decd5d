// A GRU layer's forward pass for evaluation only (the importance-weighted bound runs the decoder over
// every test sentence K times): same function as rnn_forward's GRU (tfjs GRUCell, reset_after = false,
// gates z, r, h; recurrent activation hardSigmoid or sigmoid; tanh), up to rounding, with no mask and
// nothing saved for a gradient. Rows are independent, so the threads take blocks of rows (dynamically)
// and run every step of their block with serial products whose operands stay in L2; the element-wise
// part is vectorised (tanh and sigmoid through vexp) instead of scalar library calls.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gemm.h"
#include "isa.h"
#include "parallel.h"
#include "rnn.h"
#include "vmath.h"

namespace vk {
namespace VK_ISA {
namespace {

constexpr int64_t RB = 128;  // rows per block (each step's products repack U: more rows spread that)

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) <= 1.
inline vf vtanh(vf x) {
  const vf a = x < 0.f ? -x : x;
  const vf e = vexp(-2.f * a);
  const vf t = (1.f - e) / (1.f + e);
  return x < 0.f ? -t : t;
}
inline float stanh(float x) { return std::tanh(x); }

inline vf vrec(vf a, int act) {
  if (act == 0) {
    vf y = 0.2f * a + 0.5f;
    y = y < 0.f ? vf{} : y;
    return y > 1.f ? vf{} + 1.f : y;
  }
  const vf e = vexp(a < 0.f ? a : -a);  // exp(-|a|)
  return a >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
}
inline float srec(float a, int act) {
  if (act == 0) {
    const float y = 0.2f * a + 0.5f;
    return y < 0.f ? 0.f : (y > 1.f ? 1.f : y);
  }
  return 1.f / (1.f + std::exp(-a));
}

struct Job {
  int act;
  int64_t B, T, I, H;
  const float *X, *W, *U, *bias, *h0;
  float* Y;
  int64_t next, blocks;
};

void block_part(void* ctx, int) {
  Job& j = *static_cast<Job*>(ctx);
  const int64_t H = j.H, GH = 3 * H, T = j.T, I = j.I;
  float* g = static_cast<float*>(std::aligned_alloc(64, ((RB * GH * 4 + 63) / 64) * 64));
  float* xw = static_cast<float*>(std::aligned_alloc(64, ((RB * T * GH * 4 + 63) / 64) * 64));
  float* h = static_cast<float*>(std::aligned_alloc(64, ((RB * H * 4 + 63) / 64) * 64));
  float* rh = static_cast<float*>(std::aligned_alloc(64, ((RB * H * 4 + 63) / 64) * 64));
  for (;;) {
    const int64_t blk = __atomic_fetch_add(&j.next, 1, __ATOMIC_RELAXED);
    if (blk >= j.blocks) break;
    const int64_t b0 = blk * RB, m = std::min<int64_t>(RB, j.B - b0);
    std::memcpy(h, j.h0 + b0 * H, m * H * sizeof(float));
    // The input projection of every step of the block at once: xw [m, T, 3H] = X W.
    sgemm(m * T, GH, I, j.X + b0 * T * I, I, 1, j.W, GH, 1, xw, GH, false, false);
    for (int64_t t = 0; t < T; t++) {
      // g = x_t W, then g[:, 0:2H] += h U[:, 0:2H]
      for (int64_t b = 0; b < m; b++) std::memcpy(g + b * GH, xw + (b * T + t) * GH, GH * sizeof(float));
      sgemm(m, 2 * H, H, h, H, 1, j.U, GH, 1, g, GH, true, false);
      for (int64_t b = 0; b < m; b++) {
        float* gr = g + b * GH;
        const float* hr = h + b * H;
        float* rr = rh + b * H;
        int64_t c = 0;
        for (; c + VW <= H; c += VW) {
          vf pr = *reinterpret_cast<const vfu*>(gr + H + c);
          if (j.bias) pr += *reinterpret_cast<const vfu*>(j.bias + H + c);
          *reinterpret_cast<vfu*>(rr + c) = vrec(pr, j.act) * *reinterpret_cast<const vfu*>(hr + c);
        }
        for (; c < H; c++) rr[c] = srec(gr[H + c] + (j.bias ? j.bias[H + c] : 0.f), j.act) * hr[c];
      }
      // g[:, 2H:3H] += (r * h) U[:, 2H:3H]
      sgemm(m, H, H, rh, H, 1, j.U + 2 * H, GH, 1, g + 2 * H, GH, true, false);
      for (int64_t b = 0; b < m; b++) {
        const float* gr = g + b * GH;
        float* hr = h + b * H;
        float* y = j.Y + ((b0 + b) * T + t) * H;
        int64_t c = 0;
        for (; c + VW <= H; c += VW) {
          vf pz = *reinterpret_cast<const vfu*>(gr + c);
          vf ph = *reinterpret_cast<const vfu*>(gr + 2 * H + c);
          if (j.bias) {
            pz += *reinterpret_cast<const vfu*>(j.bias + c);
            ph += *reinterpret_cast<const vfu*>(j.bias + 2 * H + c);
          }
          const vf z = vrec(pz, j.act);
          const vf hh = vtanh(ph);
          const vf hn = z * *reinterpret_cast<const vfu*>(hr + c) + (1.f - z) * hh;
          *reinterpret_cast<vfu*>(hr + c) = hn;
          *reinterpret_cast<vfu*>(y + c) = hn;
        }
        for (; c < H; c++) {
          const float z = srec(gr[c] + (j.bias ? j.bias[c] : 0.f), j.act);
          const float hh = stanh(gr[2 * H + c] + (j.bias ? j.bias[2 * H + c] : 0.f));
          hr[c] = z * hr[c] + (1.f - z) * hh;
          y[c] = hr[c];
        }
      }
    }
  }
  std::free(g);
  std::free(xw);
  std::free(h);
  std::free(rh);
}

}  // namespace

void gru_infer(int act, const RnnDims& d, const float* X, const float* W, const float* U, const float* bias,
               const float* h0, float* Y) {
  if (d.B <= 0 || d.T <= 0) return;
  Job job{act, d.B, d.T, d.I, d.H, X, W, U, bias, h0, Y, 0, (d.B + RB - 1) / RB};
  parallel_for(threads(), block_part, &job);
}

}  // namespace VK_ISA
}  // namespace vk
