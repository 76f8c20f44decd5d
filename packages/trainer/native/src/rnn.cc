// Fused GRU / LSTM layers: the whole sequence forward, and its whole backward, in one call each, with
// exactly tfjs-layers' semantics (GRUCell with reset_after = false, gate order z,r,h; LSTMCell gates
// i,f,c,o; recurrent activation hardSigmoid or sigmoid, activation tanh; a mask keeps the previous state
// where it is 0; an initial state). The input projection of all time steps is one large matrix product
// (X W + b), only h U runs per step, and the weight gradients are again single large products over all
// steps, so the per-step work is two small products plus element-wise loops.
//
// Layouts (row-major, batch-major so that rows (b, t) of every buffer share one stride):
//   X [B,T,I]  W [I,G*H]  U [H,G*H]  bias [G*H]  h0/c0 [B,H]  mask [B,T] (1 keep going, 0 hold state)
//   WS [B,T,G*H]  saved gate values: GRU pre_z, pre_r, hh; LSTM pre_i, pre_f, g = tanh(pre_c), pre_o
//   HP [B,T,H] the state entering each step (h_{t-1}); RHP [B,T,H] r * h_{t-1} (GRU); CP [B,T,H] c_{t-1}
// Element-wise code follows tfjs' operation order and is compiled without FMA contraction
// (the pragma below) so that it rounds like tfjs' kernels.
#include "rnn.h"

// Element-wise rounding as tfjs: no fused multiply-add contraction in this file.
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>

#include "gemm.h"
#include "isa.h"

namespace vk {
namespace VK_ISA {
namespace {

// A zero-filled float buffer. Not std::vector: its out-of-line members would be emitted as weak symbols
// by every instruction-set copy of this file, and the linker may keep the widest one for all of them.
class Buf {
 public:
  Buf() = default;
  explicit Buf(int64_t n) { reset(n); }
  Buf(const float* src, int64_t n) {
    reset(n);
    std::memcpy(p_, src, n * sizeof(float));
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { std::free(p_); }
  void reset(int64_t n) {
    std::free(p_);
    p_ = static_cast<float*>(std::calloc(n > 0 ? n : 1, sizeof(float)));
  }
  void assign(const float* src, int64_t n) {
    reset(n);
    std::memcpy(p_, src, n * sizeof(float));
  }
  void swap(Buf& o) {
    float* t = p_;
    p_ = o.p_;
    o.p_ = t;
  }
  float* data() { return p_; }
  const float* data() const { return p_; }
  float& operator[](int64_t i) { return p_[i]; }
  float operator[](int64_t i) const { return p_[i]; }

 private:
  float* p_ = nullptr;
};

enum Kind { GRU = 0, LSTM = 1 };
enum RecAct { HARD_SIGMOID = 0, SIGMOID = 1 };

inline float rec_act(float a, int act) {
  if (act == HARD_SIGMOID) {
    const float y = 0.2f * a + 0.5f;  // tfjs: add(.5, mul(.2, x)) then clipByValue(y, 0, 1)
    return y < 0.f ? 0.f : (y > 1.f ? 1.f : y);
  }
  return 1.f / (1.f + std::exp(-a));
}

// d act / d a, as tfjs' gradients give it (clipByValue passes the gradient where min <= y <= max).
inline float rec_act_grad(float a, int act) {
  if (act == HARD_SIGMOID) {
    const float y = 0.2f * a + 0.5f;
    return (y >= 0.f && y <= 1.f) ? 0.2f : 0.f;
  }
  const float s = 1.f / (1.f + std::exp(-a));
  return s * (1.f - s);
}

}  // namespace

// Forward. Outputs: Y ([B,T,H] when seq else [B,H]), hLast [B,H], cLast [B,H] (LSTM), WS, HP, RHP (GRU) / CP (LSTM).
void rnn_forward(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                 const float* bias, const float* h0, const float* c0, const float* mask, float* Y, float* hLast,
                 float* cLast, float* WS, float* HP, float* AUX) {
  const int64_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
  // WS <- X W + b for every (b, t) at once.
  sgemm(B * T, GH, I, X, I, 1, W, GH, 1, WS, GH, false);
  if (bias)
    for (int64_t r = 0; r < B * T; r++)
      for (int64_t j = 0; j < GH; j++) WS[r * GH + j] += bias[j];
  Buf rec(B * GH);
  Buf h(h0, B * H);
  Buf c;
  if (kind == LSTM) c.assign(c0, B * H);
  const int64_t rs = T * H;  // row stride of per-step views into [B,T,H] buffers
  for (int64_t t = 0; t < T; t++) {
    float* hp = HP + t * H;
    for (int64_t b = 0; b < B; b++) std::memcpy(hp + b * rs, &h[b * H], H * sizeof(float));
    if (kind == GRU) {
      float* rhp = AUX + t * H;
      // rec[:, 0:2H] = h_{t-1} U[:, 0:2H]
      sgemm(B, 2 * H, H, hp, rs, 1, U, GH, 1, rec.data(), GH, false);
      for (int64_t b = 0; b < B; b++) {
        float* ws = WS + (b * T + t) * GH;
        const float* hrow = hp + b * rs;
        for (int64_t j = 0; j < H; j++) {
          const float pz = ws[j] + rec[b * GH + j];
          const float pr = ws[H + j] + rec[b * GH + H + j];
          ws[j] = pz;
          ws[H + j] = pr;
          rhp[b * rs + j] = rec_act(pr, act) * hrow[j];
        }
      }
      // rec[:, 2H:3H] = (r * h_{t-1}) U[:, 2H:3H]
      sgemm(B, H, H, rhp, rs, 1, U + 2 * H, GH, 1, rec.data() + 2 * H, GH, false);
      for (int64_t b = 0; b < B; b++) {
        float* ws = WS + (b * T + t) * GH;
        const float* hrow = hp + b * rs;
        const bool keep = !mask || mask[b * T + t] != 0.f;
        for (int64_t j = 0; j < H; j++) {
          const float hh = std::tanh(ws[2 * H + j] + rec[b * GH + 2 * H + j]);
          ws[2 * H + j] = hh;
          const float z = rec_act(ws[j], act);
          const float hn = z * hrow[j] + (1.f + -z) * hh;
          if (keep) h[b * H + j] = hn;
        }
      }
    } else {
      float* cp = AUX + t * H;
      for (int64_t b = 0; b < B; b++) std::memcpy(cp + b * rs, &c[b * H], H * sizeof(float));
      sgemm(B, GH, H, hp, rs, 1, U, GH, 1, rec.data(), GH, false);
      for (int64_t b = 0; b < B; b++) {
        float* ws = WS + (b * T + t) * GH;
        const bool keep = !mask || mask[b * T + t] != 0.f;
        for (int64_t j = 0; j < 4 * H; j++) ws[j] += rec[b * GH + j];
        for (int64_t j = 0; j < H; j++) {
          const float i = rec_act(ws[j], act);
          const float f = rec_act(ws[H + j], act);
          const float g = std::tanh(ws[2 * H + j]);
          ws[2 * H + j] = g;
          const float o = rec_act(ws[3 * H + j], act);
          const float cn = f * c[b * H + j] + i * g;
          const float hn = o * std::tanh(cn);
          if (keep) {
            c[b * H + j] = cn;
            h[b * H + j] = hn;
          }
        }
      }
    }
    if (seq)
      for (int64_t b = 0; b < B; b++) std::memcpy(Y + (b * T + t) * H, &h[b * H], H * sizeof(float));
  }
  std::memcpy(hLast, h.data(), B * H * sizeof(float));
  if (!seq) std::memcpy(Y, h.data(), B * H * sizeof(float));
  if (kind == LSTM) std::memcpy(cLast, c.data(), B * H * sizeof(float));
}

// Backward. dY as Y; dhLast/dcLast optional gradients of the final states. Outputs dX, dW, dU, db
// (when bias), dh0, dc0 (LSTM).
void rnn_backward(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                  const float* mask, const float* WS, const float* HP, const float* AUX, const float* dY,
                  float* dX, float* dW, float* dU, float* db, float* dh0, float* dc0) {
  const int64_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
  const int64_t rs = T * H;
  Buf DA(B * T * GH);  // gradient of the gate pre-activations, [B,T,GH]
  Buf dh(B * H), dhp(B * H), tmp(B * H), dc, dcp;
  if (kind == LSTM) {
    dc.reset(B * H);
    dcp.reset(B * H);
  }
  if (!seq) std::memcpy(dh.data(), dY, B * H * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    if (seq)
      for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) dh[b * H + j] += dY[(b * T + t) * H + j];
    float* da = DA.data() + t * GH;  // rows of step t, stride T*GH
    const int64_t rsa = T * GH;
    const float* hp = HP + t * H;
    if (kind == GRU) {
      const float* rhp = AUX + t * H;
      for (int64_t b = 0; b < B; b++) {
        const float* ws = WS + (b * T + t) * GH;
        const float m = (!mask || mask[b * T + t] != 0.f) ? 1.f : 0.f;
        float* dar = da + b * rsa;
        for (int64_t j = 0; j < H; j++) {
          const float g = dh[b * H + j] * m;
          const float z = rec_act(ws[j], act);
          const float hh = ws[2 * H + j];
          const float hpv = hp[b * rs + j];
          dar[j] = g * (hpv - hh);                      // dz (scaled below)
          dar[2 * H + j] = g * (1.f + -z) * (1.f - hh * hh);  // d pre_h
          dhp[b * H + j] = g * z + dh[b * H + j] * (1.f - m);
        }
      }
      // d(r * h_{t-1}) = d pre_h U_h^T
      sgemm(B, H, H, da + 2 * H, rsa, 1, U + 2 * H, 1, GH, tmp.data(), H, false);
      for (int64_t b = 0; b < B; b++) {
        const float* ws = WS + (b * T + t) * GH;
        float* dar = da + b * rsa;
        for (int64_t j = 0; j < H; j++) {
          const float hpv = hp[b * rs + j];
          const float r = rec_act(ws[H + j], act);
          const float drhp = tmp[b * H + j];
          dhp[b * H + j] += drhp * r;
          dar[j] *= rec_act_grad(ws[j], act);
          dar[H + j] = drhp * hpv * rec_act_grad(ws[H + j], act);
        }
      }
      // d h_{t-1} += d pre_{z,r} U_{z,r}^T
      sgemm(B, H, 2 * H, da, rsa, 1, U, 1, GH, dhp.data(), H, true);
      (void)rhp;
    } else {
      const float* cpv = AUX + t * H;
      for (int64_t b = 0; b < B; b++) {
        const float* ws = WS + (b * T + t) * GH;
        const float m = (!mask || mask[b * T + t] != 0.f) ? 1.f : 0.f;
        float* dar = da + b * rsa;
        for (int64_t j = 0; j < H; j++) {
          const float i = rec_act(ws[j], act), f = rec_act(ws[H + j], act), g = ws[2 * H + j];
          const float o = rec_act(ws[3 * H + j], act);
          const float cprev = cpv[b * rs + j];
          const float cn = f * cprev + i * g;
          const float tc = std::tanh(cn);
          const float gh = dh[b * H + j] * m;
          const float gc = dc[b * H + j] * m + gh * o * (1.f - tc * tc);
          dar[j] = gc * g * rec_act_grad(ws[j], act);
          dar[H + j] = gc * cprev * rec_act_grad(ws[H + j], act);
          dar[2 * H + j] = gc * i * (1.f - g * g);
          dar[3 * H + j] = gh * tc * rec_act_grad(ws[3 * H + j], act);
          dcp[b * H + j] = gc * f + dc[b * H + j] * (1.f - m);
          dhp[b * H + j] = dh[b * H + j] * (1.f - m);
        }
      }
      sgemm(B, H, GH, da, rsa, 1, U, 1, GH, dhp.data(), H, true);
      dc.swap(dcp);
    }
    dh.swap(dhp);
  }
  std::memcpy(dh0, dh.data(), B * H * sizeof(float));
  if (kind == LSTM) std::memcpy(dc0, dc.data(), B * H * sizeof(float));
  const int64_t R = B * T;
  if (kind == GRU) {
    sgemm(H, 2 * H, R, HP, 1, H, DA.data(), GH, 1, dU, GH, false);
    sgemm(H, H, R, AUX, 1, H, DA.data() + 2 * H, GH, 1, dU + 2 * H, GH, false);
  } else {
    sgemm(H, GH, R, HP, 1, H, DA.data(), GH, 1, dU, GH, false);
  }
  sgemm(I, GH, R, X, 1, I, DA.data(), GH, 1, dW, GH, false);
  sgemm(R, I, GH, DA.data(), GH, 1, W, 1, GH, dX, I, false);
  if (db) {
    std::memset(db, 0, GH * sizeof(float));
    for (int64_t r = 0; r < R; r++)
      for (int64_t j = 0; j < GH; j++) db[j] += DA[r * GH + j];
  }
}

}  // namespace VK_ISA
}  // namespace vk
