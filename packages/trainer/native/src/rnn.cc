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
#include <vector>

#include "gemm.h"

namespace vk {
namespace {

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

struct Dims {
  int64_t B, T, I, H, G;
  int64_t GH() const { return G * H; }
};

}  // namespace

// Forward. Outputs: Y ([B,T,H] when seq else [B,H]), hLast [B,H], cLast [B,H] (LSTM), WS, HP, RHP (GRU) / CP (LSTM).
void rnn_forward(int kind, int act, bool seq, const Dims& d, const float* X, const float* W, const float* U,
                 const float* bias, const float* h0, const float* c0, const float* mask, float* Y, float* hLast,
                 float* cLast, float* WS, float* HP, float* AUX) {
  const int64_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.GH();
  // WS <- X W + b for every (b, t) at once.
  sgemm(B * T, GH, I, X, I, 1, W, GH, 1, WS, GH, false);
  if (bias)
    for (int64_t r = 0; r < B * T; r++)
      for (int64_t j = 0; j < GH; j++) WS[r * GH + j] += bias[j];
  std::vector<float> rec(B * GH);
  std::vector<float> h(h0, h0 + B * H);
  std::vector<float> c;
  if (kind == LSTM) c.assign(c0, c0 + B * H);
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
void rnn_backward(int kind, int act, bool seq, const Dims& d, const float* X, const float* W, const float* U,
                  const float* mask, const float* WS, const float* HP, const float* AUX, const float* dY,
                  float* dX, float* dW, float* dU, float* db, float* dh0, float* dc0) {
  const int64_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.GH();
  const int64_t rs = T * H;
  std::vector<float> DA(B * T * GH, 0.f);  // gradient of the gate pre-activations, [B,T,GH]
  std::vector<float> dh(B * H, 0.f), dhp(B * H), tmp(B * H), dc, dcp;
  if (kind == LSTM) {
    dc.assign(B * H, 0.f);
    dcp.assign(B * H, 0.f);
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

namespace {

napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

float* f32(napi_env env, napi_value v, size_t need, bool optional, bool* ok) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    if (!optional) *ok = false;
    return nullptr;
  }
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) {
    *ok = false;
    return nullptr;
  }
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_float32_array || length < need) {
    *ok = false;
    return nullptr;
  }
  return static_cast<float*>(data);
}

int64_t i64(napi_env env, napi_value v) {
  double x = 0;
  napi_get_value_double(env, v, &x);
  return static_cast<int64_t>(x);
}

// rnnForward(kind, act, seq, B, T, I, H, X, W, U, bias|null, h0, c0|null, mask|null, Y, hLast, cLast|null, WS, HP, AUX)
napi_value forward(napi_env env, napi_callback_info info) {
  size_t argc = 20;
  napi_value v[20];
  napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
  if (argc < 20) return fail(env, "rnnForward: 20 arguments expected");
  const int kind = i64(env, v[0]), act = i64(env, v[1]);
  const bool seq = i64(env, v[2]) != 0;
  Dims d{i64(env, v[3]), i64(env, v[4]), i64(env, v[5]), i64(env, v[6]), kind == LSTM ? 4 : 3};
  const size_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.GH();
  bool ok = d.B > 0 && d.T > 0 && d.I > 0 && d.H > 0;
  float* X = f32(env, v[7], B * T * I, false, &ok);
  float* W = f32(env, v[8], I * GH, false, &ok);
  float* U = f32(env, v[9], H * GH, false, &ok);
  float* bias = f32(env, v[10], GH, true, &ok);
  float* h0 = f32(env, v[11], B * H, false, &ok);
  float* c0 = f32(env, v[12], B * H, kind == GRU, &ok);
  float* mask = f32(env, v[13], B * T, true, &ok);
  float* Y = f32(env, v[14], seq ? B * T * H : B * H, false, &ok);
  float* hLast = f32(env, v[15], B * H, false, &ok);
  float* cLast = f32(env, v[16], B * H, kind == GRU, &ok);
  float* WS = f32(env, v[17], B * T * GH, false, &ok);
  float* HP = f32(env, v[18], B * T * H, false, &ok);
  float* AUX = f32(env, v[19], B * T * H, false, &ok);
  if (!ok) return fail(env, "rnnForward: bad dimensions or a missing / too short Float32Array");
  rnn_forward(kind, act, seq, d, X, W, U, bias, h0, c0, mask, Y, hLast, cLast, WS, HP, AUX);
  return nullptr;
}

// rnnBackward(kind, act, seq, B, T, I, H, X, W, U, mask|null, WS, HP, AUX, dY, dX, dW, dU, db|null, dh0, dc0|null)
napi_value backward(napi_env env, napi_callback_info info) {
  size_t argc = 21;
  napi_value v[21];
  napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
  if (argc < 21) return fail(env, "rnnBackward: 21 arguments expected");
  const int kind = i64(env, v[0]), act = i64(env, v[1]);
  const bool seq = i64(env, v[2]) != 0;
  Dims d{i64(env, v[3]), i64(env, v[4]), i64(env, v[5]), i64(env, v[6]), kind == LSTM ? 4 : 3};
  const size_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.GH();
  bool ok = d.B > 0 && d.T > 0 && d.I > 0 && d.H > 0;
  float* X = f32(env, v[7], B * T * I, false, &ok);
  float* W = f32(env, v[8], I * GH, false, &ok);
  float* U = f32(env, v[9], H * GH, false, &ok);
  float* mask = f32(env, v[10], B * T, true, &ok);
  float* WS = f32(env, v[11], B * T * GH, false, &ok);
  float* HP = f32(env, v[12], B * T * H, false, &ok);
  float* AUX = f32(env, v[13], B * T * H, false, &ok);
  float* dY = f32(env, v[14], seq ? B * T * H : B * H, false, &ok);
  float* dX = f32(env, v[15], B * T * I, false, &ok);
  float* dW = f32(env, v[16], I * GH, false, &ok);
  float* dU = f32(env, v[17], H * GH, false, &ok);
  float* db = f32(env, v[18], GH, true, &ok);
  float* dh0 = f32(env, v[19], B * H, false, &ok);
  float* dc0 = f32(env, v[20], B * H, kind == GRU, &ok);
  if (!ok) return fail(env, "rnnBackward: bad dimensions or a missing / too short Float32Array");
  rnn_backward(kind, act, seq, d, X, W, U, mask, WS, HP, AUX, dY, dX, dW, dU, db, dh0, dc0);
  return nullptr;
}

}  // namespace

void register_rnn(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"rnnForward", nullptr, forward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rnnBackward", nullptr, backward, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 2, props);
}

}  // namespace vk
