#include "gemm.h"

#include "isa.h"
#include "parallel.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vk {
namespace VK_ISA {
namespace {

constexpr int NR = 2 * VW;
constexpr int KC = 256;
constexpr int MC = MR * 16;
constexpr int NC = NR * 32;

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));

// MR x NR tile of C += A_panel (MR x kc, k-major) * B_panel (kc x NR, k-major).
inline void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* __restrict c,
                         int64_t ldc, bool accumulate) {
  vf acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vf{};
  for (int64_t p = 0; p < kc; p++) {
    const vf b0 = reinterpret_cast<const vf*>(bp)[0];
    const vf b1 = reinterpret_cast<const vf*>(bp)[1];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const float av = ap[i];
      acc[i][0] += b0 * av;
      acc[i][1] += b1 * av;
    }
    ap += MR;
    bp += NR;
  }
  for (int i = 0; i < MR; i++) {
    vfu* row = reinterpret_cast<vfu*>(c + i * ldc);
    if (accumulate) {
      row[0] += acc[i][0];
      row[1] += acc[i][1];
    } else {
      row[0] = acc[i][0];
      row[1] = acc[i][1];
    }
  }
}

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels, zero-padded to a multiple of MR.
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rsa, int64_t csa, float* out) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ir);
    if (csa == 1) {
      for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < rows; i++) out[p * MR + i] = a[(ir + i) * rsa + p];
        for (int i = rows; i < MR; i++) out[p * MR + i] = 0.f;
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        const float* src = a + ir * rsa + p * csa;
        int i = 0;
        for (; i < rows; i++) out[p * MR + i] = src[i * rsa];
        for (; i < MR; i++) out[p * MR + i] = 0.f;
      }
    }
    out += MR * kc;
  }
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of B into NR-column panels, zero-padded.
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rsb, int64_t csb, float* out) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jr);
    for (int64_t p = 0; p < kc; p++) {
      float* dst = out + p * NR;
      const float* src = b + p * rsb + jr * csb;
      if (csb == 1) {
        std::memcpy(dst, src, cols * sizeof(float));
      } else {
        for (int64_t j = 0; j < cols; j++) dst[j] = src[j * csb];
      }
      for (int64_t j = cols; j < NR; j++) dst[j] = 0.f;
    }
    out += NR * kc;
  }
}

struct Buffers {
  float* a = nullptr;
  float* b = nullptr;
  Buffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * NC * KC));
  }
  ~Buffers() {
    std::free(a);
    std::free(b);
  }
};

void sgemm_serial(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                  int64_t rsb, int64_t csb, float* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) std::memset(c + i * ldc, 0, n * sizeof(float));
    return;
  }
  thread_local Buffers buf;
  alignas(64) float edge[MR * NR];
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min<int64_t>(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = std::min<int64_t>(KC, k - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(kc, nc, b + pc * rsb + jc * csb, rsb, csb, buf.b);
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, m - ic);
        pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, buf.a);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const float* bp = buf.b + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const float* ap = buf.a + ir * kc;
            float* cp = c + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              micro_kernel(kc, ap, bp, cp, ldc, acc);
            } else {
              micro_kernel(kc, ap, bp, edge, NR, false);
              for (int64_t i = 0; i < mr; i++)
                for (int64_t j = 0; j < nr; j++) cp[i * ldc + j] = (acc ? cp[i * ldc + j] : 0.f) + edge[i * NR + j];
            }
          }
        }
      }
    }
  }
}

struct GemmJob {
  int64_t m, n, k;
  const float* a;
  int64_t rsa, csa;
  const float* b;
  int64_t rsb, csb;
  float* c;
  int64_t ldc;
  bool accumulate, split_n;
  int parts;
};

void gemm_part(void* ctx, int part) {
  const GemmJob& j = *static_cast<GemmJob*>(ctx);
  // Split the longer side of C into equal runs of whole micro-tiles.
  const int64_t extent = j.split_n ? j.n : j.m;
  const int64_t unit = j.split_n ? NR : MR;
  const int64_t tiles = (extent + unit - 1) / unit;
  const int64_t lo = std::min(extent, tiles * part / j.parts * unit);
  const int64_t hi = std::min(extent, tiles * (part + 1) / j.parts * unit);
  if (hi <= lo) return;
  if (j.split_n) {
    sgemm_serial(j.m, hi - lo, j.k, j.a, j.rsa, j.csa, j.b + lo * j.csb, j.rsb, j.csb, j.c + lo, j.ldc, j.accumulate);
  } else {
    sgemm_serial(hi - lo, j.n, j.k, j.a + lo * j.rsa, j.rsa, j.csa, j.b, j.rsb, j.csb, j.c + lo * j.ldc, j.ldc,
                 j.accumulate);
  }
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t rsb,
           int64_t csb, float* c, int64_t ldc, bool accumulate, bool allow_threads) {
  const double flops = 2.0 * m * n * k;
  int parts = allow_threads ? threads() : 1;
  // Below ~2 MFLOP (tens of microseconds) waking a worker costs more than it saves.
  if (flops < 2e6) parts = 1;
  if (parts <= 1) {
    sgemm_serial(m, n, k, a, rsa, csa, b, rsb, csb, c, ldc, accumulate);
    return;
  }
  GemmJob job{m, n, k, a, rsa, csa, b, rsb, csb, c, ldc, accumulate, n / NR >= m / MR, parts};
  parallel_for(parts, gemm_part, &job);
}

}  // namespace VK_ISA
}  // namespace vk
