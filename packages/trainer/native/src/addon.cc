// N-API entry points of vaekit's native training kernels. Every function works in place on typed arrays
// the caller allocated (views of the tfjs WASM heap), so nothing is copied on the way in or out.
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels.h"
#include "parallel.h"

namespace {

#define CHECK(call)                                          \
  do {                                                       \
    if ((call) != napi_ok) return fail(env, "N-API: " #call); \
  } while (0)

napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

// Reads argument i as a typed array; null/undefined gives nullptr.
bool typed(napi_env env, napi_value v, void** data, size_t* length) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) == napi_ok;
}

double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

struct Args {
  napi_value v[24];
  size_t n = 24;
};

bool get_args(napi_env env, napi_callback_info info, Args& a, size_t want) {
  if (napi_get_cb_info(env, info, &a.n, a.v, nullptr, nullptr) != napi_ok) return false;
  return a.n >= want;
}

// matmul(a, b, c, batch, m, n, k, transA, transB, batchStrideA, batchStrideB, bias|null, activation, alpha)
// c[batch, m, n] = act(op(a) op(b) + bias); activation: 0 linear, 1 relu, 2 relu6, 3 elu, 4 sigmoid,
// 5 leakyrelu (alpha). A batch stride of 0 broadcasts that operand.
napi_value matmul(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 14)) return fail(env, "matmul: 14 arguments expected");
  void *pa, *pb, *pc, *pbias;
  size_t la, lb, lc, lbias;
  if (!typed(env, a.v[0], &pa, &la) || !typed(env, a.v[1], &pb, &lb) || !typed(env, a.v[2], &pc, &lc) ||
      !typed(env, a.v[11], &pbias, &lbias))
    return fail(env, "matmul: typed arrays expected");
  const int64_t batch = num(env, a.v[3]), m = num(env, a.v[4]), n = num(env, a.v[5]), k = num(env, a.v[6]);
  const bool ta = num(env, a.v[7]) != 0, tb = num(env, a.v[8]) != 0;
  const int64_t sa = num(env, a.v[9]), sb = num(env, a.v[10]);
  const int act = static_cast<int>(num(env, a.v[12]));
  const float alpha = static_cast<float>(num(env, a.v[13]));
  if (lc < static_cast<size_t>(batch * m * n) || la < static_cast<size_t>((batch - 1) * sa + m * k) ||
      lb < static_cast<size_t>((batch - 1) * sb + k * n) || (pbias && lbias != static_cast<size_t>(n) && lbias != 1))
    return fail(env, "matmul: array too short for the given shape");
  const float* A = static_cast<const float*>(pa);
  const float* B = static_cast<const float*>(pb);
  float* C = static_cast<float*>(pc);
  const float* bias = static_cast<const float*>(pbias);
  for (int64_t i = 0; i < batch; i++) {
    // A is [m,k] (or [k,m] transposed), B is [k,n] (or [n,k] transposed), all row-major.
    vk::kernels().sgemm(m, n, k, A + i * sa, ta ? 1 : k, ta ? m : 1, B + i * sb, tb ? 1 : n, tb ? k : 1, C + i * m * n, n,
                        false, true);
  }
  if (bias || act) {
    const int64_t rows = batch * m;
    for (int64_t r = 0; r < rows; r++) {
      float* row = C + r * n;
      if (bias) {
        if (lbias == 1)
          for (int64_t j = 0; j < n; j++) row[j] += bias[0];
        else
          for (int64_t j = 0; j < n; j++) row[j] += bias[j];
      }
      switch (act) {
        case 1:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] > 0.f ? row[j] : 0.f;
          break;
        case 2:
          for (int64_t j = 0; j < n; j++) row[j] = std::fmin(std::fmax(row[j], 0.f), 6.f);
          break;
        case 3:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] > 0.f ? row[j] : std::expm1(row[j]);
          break;
        case 4:
          for (int64_t j = 0; j < n; j++) row[j] = 1.f / (1.f + std::exp(-row[j]));
          break;
        case 5:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? alpha * row[j] : row[j];
          break;
        default:
          break;
      }
    }
  }
  return nullptr;
}

// softmaxXent(logits, labels, loss, lse, n, v) and softmaxXentGrad(logits, labels, lse, dloss, dlogits, n, v).
napi_value softmax_xent(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 6)) return fail(env, "softmaxXent: 6 arguments expected");
  void *pl, *pid, *ploss, *plse;
  size_t ll, lid, lloss, llse;
  if (!typed(env, a.v[0], &pl, &ll) || !typed(env, a.v[1], &pid, &lid) || !typed(env, a.v[2], &ploss, &lloss) ||
      !typed(env, a.v[3], &plse, &llse))
    return fail(env, "softmaxXent: typed arrays expected");
  const int64_t n = num(env, a.v[4]), v = num(env, a.v[5]);
  if (n < 0 || v < 1 || ll < static_cast<size_t>(n * v) || lid < static_cast<size_t>(n) ||
      lloss < static_cast<size_t>(n) || llse < static_cast<size_t>(n))
    return fail(env, "softmaxXent: array too short for the given shape");
  vk::kernels().softmax_xent(static_cast<const float*>(pl), static_cast<const int32_t*>(pid), static_cast<float*>(ploss),
                   static_cast<float*>(plse), n, v);
  return nullptr;
}

napi_value softmax_xent_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 7)) return fail(env, "softmaxXentGrad: 7 arguments expected");
  void *pl, *pid, *plse, *pd, *pout;
  size_t ll, lid, llse, ld, lout;
  if (!typed(env, a.v[0], &pl, &ll) || !typed(env, a.v[1], &pid, &lid) || !typed(env, a.v[2], &plse, &llse) ||
      !typed(env, a.v[3], &pd, &ld) || !typed(env, a.v[4], &pout, &lout))
    return fail(env, "softmaxXentGrad: typed arrays expected");
  const int64_t n = num(env, a.v[5]), v = num(env, a.v[6]);
  if (n < 0 || v < 1 || ll < static_cast<size_t>(n * v) || lout < static_cast<size_t>(n * v) ||
      lid < static_cast<size_t>(n) || llse < static_cast<size_t>(n) || ld < static_cast<size_t>(n))
    return fail(env, "softmaxXentGrad: array too short for the given shape");
  vk::kernels().softmax_xent_grad(static_cast<const float*>(pl), static_cast<const int32_t*>(pid), static_cast<const float*>(plse),
                        static_cast<const float*>(pd), static_cast<float*>(pout), n, v);
  return nullptr;
}

// additiveScores(qa, ka, v, mask|null, scores, E, B, T, S, A) and
// additiveScoresGrad(ds, E, v, mask|null, dqa, dka, dv, B, T, S, A) (see attention.cc).
napi_value additive_scores(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 10)) return fail(env, "additiveScores: 10 arguments expected");
  void* p[6];
  size_t l[6];
  for (int i = 0; i < 6; i++)
    if (!typed(env, a.v[i], &p[i], &l[i])) return fail(env, "additiveScores: typed arrays expected");
  const int64_t B = num(env, a.v[6]), T = num(env, a.v[7]), S = num(env, a.v[8]), A = num(env, a.v[9]);
  if (B < 0 || T < 1 || S < 1 || A < 1 || l[0] < static_cast<size_t>(B * T * A) || l[1] < static_cast<size_t>(B * S * A) ||
      l[2] < static_cast<size_t>(A) || (p[3] && l[3] < static_cast<size_t>(B * S)) || l[4] < static_cast<size_t>(B * T * S) ||
      l[5] < static_cast<size_t>(B * T * S * A))
    return fail(env, "additiveScores: array too short for the given shape");
  vk::kernels().additive_scores(static_cast<const float*>(p[0]), static_cast<const float*>(p[1]), static_cast<const float*>(p[2]),
                                static_cast<const float*>(p[3]), static_cast<float*>(p[4]), static_cast<float*>(p[5]), B, T, S, A);
  return nullptr;
}

napi_value additive_scores_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 11)) return fail(env, "additiveScoresGrad: 11 arguments expected");
  void* p[7];
  size_t l[7];
  for (int i = 0; i < 7; i++)
    if (!typed(env, a.v[i], &p[i], &l[i])) return fail(env, "additiveScoresGrad: typed arrays expected");
  const int64_t B = num(env, a.v[7]), T = num(env, a.v[8]), S = num(env, a.v[9]), A = num(env, a.v[10]);
  if (B < 0 || T < 1 || S < 1 || A < 1 || l[0] < static_cast<size_t>(B * T * S) || l[1] < static_cast<size_t>(B * T * S * A) ||
      l[2] < static_cast<size_t>(A) || (p[3] && l[3] < static_cast<size_t>(B * S)) || l[4] < static_cast<size_t>(B * T * A) ||
      l[5] < static_cast<size_t>(B * S * A) || l[6] < static_cast<size_t>(A))
    return fail(env, "additiveScoresGrad: array too short for the given shape");
  vk::kernels().additive_scores_grad(static_cast<const float*>(p[0]), static_cast<const float*>(p[1]), static_cast<const float*>(p[2]),
                                     static_cast<const float*>(p[3]), static_cast<float*>(p[4]), static_cast<float*>(p[5]),
                                     static_cast<float*>(p[6]), B, T, S, A);
  return nullptr;
}

// adam(x, m, v, g, xOut, mOut, vOut, n, beta1, 1-beta1, beta2, 1-beta2, 1-beta1^t, 1-beta2^t, eps, -lr)
napi_value adam(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 16)) return fail(env, "adam: 16 arguments expected");
  float* p[7];
  for (int i = 0; i < 7; i++) {
    void* d;
    size_t len;
    if (!typed(env, a.v[i], &d, &len) || !d) return fail(env, "adam: typed arrays expected");
    p[i] = static_cast<float*>(d);
    if (len < static_cast<size_t>(num(env, a.v[7]))) return fail(env, "adam: array too short");
  }
  const int64_t n = num(env, a.v[7]);
  vk::AdamScalars s;
  float* fields[] = {&s.beta1, &s.one_minus_beta1, &s.beta2, &s.one_minus_beta2,
                     &s.one_minus_acc_beta1, &s.one_minus_acc_beta2, &s.epsilon, &s.neg_lr};
  for (int i = 0; i < 8; i++) *fields[i] = static_cast<float>(num(env, a.v[8 + i]));
  vk::kernels().adam(p[0], p[1], p[2], p[3], p[4], p[5], p[6], n, s);
  return nullptr;
}

// sumLeading(x, out, rows, cols): out[j] = sum over i of x[i, j], summed in row order, without the
// transpose tfjs' WASM Sum makes to bring the reduced axes innermost.
napi_value sum_leading(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 4)) return fail(env, "sumLeading: 4 arguments expected");
  void *px, *pout;
  size_t lx, lout;
  if (!typed(env, a.v[0], &px, &lx) || !typed(env, a.v[1], &pout, &lout)) return fail(env, "sumLeading: typed arrays expected");
  const int64_t rows = num(env, a.v[2]), cols = num(env, a.v[3]);
  if (lx < static_cast<size_t>(rows * cols) || lout < static_cast<size_t>(cols)) return fail(env, "sumLeading: array too short");
  const float* x = static_cast<const float*>(px);
  float* out = static_cast<float*>(pout);
  std::memset(out, 0, cols * sizeof(float));
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) out[j] += x[i * cols + j];
  return nullptr;
}

// bceLogits(logits, x, loss, n, d) and bceLogitsGrad(logits, x, dy, dl, dx|null, n, d), all float32.
napi_value bce_logits(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 5)) return fail(env, "bceLogits: 5 arguments expected");
  void *pl, *px, *po;
  size_t ll, lx, lo;
  if (!typed(env, a.v[0], &pl, &ll) || !typed(env, a.v[1], &px, &lx) || !typed(env, a.v[2], &po, &lo))
    return fail(env, "bceLogits: typed arrays expected");
  const int64_t n = num(env, a.v[3]), d = num(env, a.v[4]);
  if (n < 0 || d < 1 || ll < static_cast<size_t>(n * d) || lx < static_cast<size_t>(n * d) || lo < static_cast<size_t>(n))
    return fail(env, "bceLogits: array too short for the given shape");
  vk::kernels().bce_logits_sum(static_cast<const float*>(pl), static_cast<const float*>(px), static_cast<float*>(po), n, d);
  return nullptr;
}

napi_value bce_logits_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 7)) return fail(env, "bceLogitsGrad: 7 arguments expected");
  void *pl, *px, *pd, *pdl, *pdx;
  size_t ll, lx, ld, ldl, ldx;
  if (!typed(env, a.v[0], &pl, &ll) || !typed(env, a.v[1], &px, &lx) || !typed(env, a.v[2], &pd, &ld) ||
      !typed(env, a.v[3], &pdl, &ldl) || !typed(env, a.v[4], &pdx, &ldx))
    return fail(env, "bceLogitsGrad: typed arrays expected");
  const int64_t n = num(env, a.v[5]), d = num(env, a.v[6]);
  const size_t nd = static_cast<size_t>(n * d);
  if (n < 0 || d < 1 || ll < nd || lx < nd || !pdl || ldl < nd || (pdx && ldx < nd) || ld < static_cast<size_t>(n))
    return fail(env, "bceLogitsGrad: array too short for the given shape");
  vk::kernels().bce_logits_sum_grad(static_cast<const float*>(pl), static_cast<const float*>(px), static_cast<const float*>(pd),
                          static_cast<float*>(pdl), static_cast<float*>(pdx), n, d);
  return nullptr;
}

napi_value set_threads(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 1)) return fail(env, "setThreads: 1 argument expected");
  vk::set_threads(static_cast<int>(num(env, a.v[0])));
  return nullptr;
}

napi_value get_threads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, vk::threads(), &out);
  return out;
}

// simd(): the instruction set the kernels run with (avx512, avx2, sse or generic).
napi_value simd(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_string_utf8(env, vk::kernels().name, NAPI_AUTO_LENGTH, &out);
  return out;
}

// isas(): the instruction sets of this build that this CPU runs, widest first.
napi_value isas(napi_env env, napi_callback_info) {
  const char* names[8];
  const int n = vk::supported_isas(names, 8);
  napi_value out;
  napi_create_array_with_length(env, n, &out);
  for (int i = 0; i < n; i++) {
    napi_value s;
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, out, i, s);
  }
  return out;
}

// setIsa(name): switches the kernels to that instruction set; throws a one-line reason when it cannot.
napi_value set_isa(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 1)) return fail(env, "setIsa: 1 argument expected");
  char name[32];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, a.v[0], name, sizeof(name), &len) != napi_ok) return fail(env, "setIsa: a string expected");
  if (const char* why = vk::select_isa(name)) return fail(env, why);
  return nullptr;
}

// Recurrent layers (see rnn.cc; kind 0 GRU, 1 LSTM): argument checks here, the work in the chosen copy.
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
napi_value rnn_forward(napi_env env, napi_callback_info info) {
  size_t argc = 20;
  napi_value v[20];
  napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
  if (argc < 20) return fail(env, "rnnForward: 20 arguments expected");
  const int kind = i64(env, v[0]), act = i64(env, v[1]);
  const bool seq = i64(env, v[2]) != 0;
  vk::RnnDims d{i64(env, v[3]), i64(env, v[4]), i64(env, v[5]), i64(env, v[6]), kind == 1 ? 4 : 3};
  const size_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
  bool ok = d.B > 0 && d.T > 0 && d.I > 0 && d.H > 0;
  float* X = f32(env, v[7], B * T * I, false, &ok);
  float* W = f32(env, v[8], I * GH, false, &ok);
  float* U = f32(env, v[9], H * GH, false, &ok);
  float* bias = f32(env, v[10], GH, true, &ok);
  float* h0 = f32(env, v[11], B * H, false, &ok);
  float* c0 = f32(env, v[12], B * H, kind == 0, &ok);
  float* mask = f32(env, v[13], B * T, true, &ok);
  float* Y = f32(env, v[14], seq ? B * T * H : B * H, false, &ok);
  float* hLast = f32(env, v[15], B * H, false, &ok);
  float* cLast = f32(env, v[16], B * H, kind == 0, &ok);
  float* WS = f32(env, v[17], B * T * GH, false, &ok);
  float* HP = f32(env, v[18], B * T * H, false, &ok);
  float* AUX = f32(env, v[19], B * T * H, false, &ok);
  if (!ok) return fail(env, "rnnForward: bad dimensions or a missing / too short Float32Array");
  vk::kernels().rnn_forward(kind, act, seq, d, X, W, U, bias, h0, c0, mask, Y, hLast, cLast, WS, HP, AUX);
  return nullptr;
}

// rnnBackward(kind, act, seq, B, T, I, H, X, W, U, mask|null, WS, HP, AUX, dY, dX, dW, dU, db|null, dh0, dc0|null)
napi_value rnn_backward(napi_env env, napi_callback_info info) {
  size_t argc = 21;
  napi_value v[21];
  napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
  if (argc < 21) return fail(env, "rnnBackward: 21 arguments expected");
  const int kind = i64(env, v[0]), act = i64(env, v[1]);
  const bool seq = i64(env, v[2]) != 0;
  vk::RnnDims d{i64(env, v[3]), i64(env, v[4]), i64(env, v[5]), i64(env, v[6]), kind == 1 ? 4 : 3};
  const size_t B = d.B, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
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
  float* dc0 = f32(env, v[20], B * H, kind == 0, &ok);
  if (!ok) return fail(env, "rnnBackward: bad dimensions or a missing / too short Float32Array");
  vk::kernels().rnn_backward(kind, act, seq, d, X, W, U, mask, WS, HP, AUX, dY, dX, dW, dU, db, dh0, dc0);
  return nullptr;
}

// vaeLatent(mu, logvar, eps, z, kl, n, zd): z = mu + exp(logvar/2) eps, kl[n] (see vae.h).
napi_value vae_latent(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 7)) return fail(env, "vaeLatent: 7 arguments expected");
  const int64_t n = i64(env, a.v[5]), zd = i64(env, a.v[6]);
  const size_t nz = static_cast<size_t>(n * zd);
  bool ok = n > 0 && zd > 0;
  float* mu = f32(env, a.v[0], nz, false, &ok);
  float* lv = f32(env, a.v[1], nz, false, &ok);
  float* eps = f32(env, a.v[2], nz, false, &ok);
  float* z = f32(env, a.v[3], nz, false, &ok);
  float* kl = f32(env, a.v[4], n, false, &ok);
  if (!ok) return fail(env, "vaeLatent: bad dimensions or a missing / too short Float32Array");
  vk::kernels().vae_latent(mu, lv, eps, z, kl, n, zd);
  return nullptr;
}

// vaeLatentGrad(mu, logvar, eps, dz, coef, dmu, dlogvar, n, zd) (see vae.h).
napi_value vae_latent_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 9)) return fail(env, "vaeLatentGrad: 9 arguments expected");
  const int64_t n = i64(env, a.v[7]), zd = i64(env, a.v[8]);
  const size_t nz = static_cast<size_t>(n * zd);
  bool ok = n > 0 && zd > 0;
  float* mu = f32(env, a.v[0], nz, false, &ok);
  float* lv = f32(env, a.v[1], nz, false, &ok);
  float* eps = f32(env, a.v[2], nz, false, &ok);
  float* dz = f32(env, a.v[3], nz, false, &ok);
  const float coef = static_cast<float>(num(env, a.v[4]));
  float* dmu = f32(env, a.v[5], nz, false, &ok);
  float* dlv = f32(env, a.v[6], nz, false, &ok);
  if (!ok) return fail(env, "vaeLatentGrad: bad dimensions or a missing / too short Float32Array");
  vk::kernels().vae_latent_grad(mu, lv, eps, dz, coef, dmu, dlv, n, zd);
  return nullptr;
}

// reluGrad(y, a, b|null, out, n): out = y > 0 ? a + b : 0.
napi_value relu_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 5)) return fail(env, "reluGrad: 5 arguments expected");
  const int64_t n = i64(env, a.v[4]);
  bool ok = n >= 0;
  float* y = f32(env, a.v[0], n, false, &ok);
  float* da = f32(env, a.v[1], n, false, &ok);
  float* db = f32(env, a.v[2], n, true, &ok);
  float* out = f32(env, a.v[3], n, false, &ok);
  if (!ok) return fail(env, "reluGrad: bad size or a missing / too short Float32Array");
  vk::kernels().relu_grad(y, da, db, out, n);
  return nullptr;
}

// gruInfer(act, B, T, I, H, X, W, U, bias|null, h0, Y): GRU forward for evaluation (see rnn.h).
napi_value gru_infer(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value v[11];
  napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
  if (argc < 11) return fail(env, "gruInfer: 11 arguments expected");
  const int act = i64(env, v[0]);
  vk::RnnDims d{i64(env, v[1]), i64(env, v[2]), i64(env, v[3]), i64(env, v[4]), 3};
  const size_t B = d.B, T = d.T, I = d.I, H = d.H;
  bool ok = d.B > 0 && d.T > 0 && d.I > 0 && d.H > 0 && (act == 0 || act == 1);
  float* X = f32(env, v[5], B * T * I, false, &ok);
  float* W = f32(env, v[6], I * 3 * H, false, &ok);
  float* U = f32(env, v[7], H * 3 * H, false, &ok);
  float* bias = f32(env, v[8], 3 * H, true, &ok);
  float* h0 = f32(env, v[9], B * H, false, &ok);
  float* Y = f32(env, v[10], B * T * H, false, &ok);
  if (!ok) return fail(env, "gruInfer: bad dimensions or a missing / too short Float32Array");
  vk::kernels().gru_infer(act, d, X, W, U, bias, h0, Y);
  return nullptr;
}

// logitsNll(y, rows, labels, w, bias, nll, n, h, v): nll[i] = logsumexp(y[rows[i]] W + b) - (y[rows[i]] W + b)[labels[i]]
// (see nll.h). y, w, bias, nll Float32Array; rows, labels Int32Array; every row index checked.
napi_value logits_nll(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, a, 9)) return fail(env, "logitsNll: 9 arguments expected");
  void *py, *prows, *plabels, *pw, *pb, *pnll;
  size_t ly, lrows, llabels, lw, lb, lnll;
  if (!typed(env, a.v[0], &py, &ly) || !typed(env, a.v[1], &prows, &lrows) || !typed(env, a.v[2], &plabels, &llabels) ||
      !typed(env, a.v[3], &pw, &lw) || !typed(env, a.v[4], &pb, &lb) || !typed(env, a.v[5], &pnll, &lnll) || !py || !pw ||
      !pb || !pnll || !prows || !plabels)
    return fail(env, "logitsNll: typed arrays expected");
  const int64_t n = i64(env, a.v[6]), h = i64(env, a.v[7]), v = i64(env, a.v[8]);
  if (n < 0 || h < 1 || v < 1 || lrows < static_cast<size_t>(n) || llabels < static_cast<size_t>(n) ||
      lw < static_cast<size_t>(h * v) || lb < static_cast<size_t>(v) || lnll < static_cast<size_t>(n))
    return fail(env, "logitsNll: array too short for the given shape");
  const int32_t* rows = static_cast<const int32_t*>(prows);
  const int64_t yrows = static_cast<int64_t>(ly / h);
  for (int64_t i = 0; i < n; i++)
    if (rows[i] < 0 || rows[i] >= yrows) return fail(env, "logitsNll: a row index is outside y");
  vk::kernels().logits_nll(static_cast<const float*>(py), rows, static_cast<const int32_t*>(plabels), n,
                           static_cast<const float*>(pw), static_cast<const float*>(pb), h, v, static_cast<float*>(pnll));
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"matmul", nullptr, matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxXent", nullptr, softmax_xent, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxXentGrad", nullptr, softmax_xent_grad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumLeading", nullptr, sum_leading, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bceLogits", nullptr, bce_logits, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bceLogitsGrad", nullptr, bce_logits_grad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, set_threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, get_threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"simd", nullptr, simd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isas", nullptr, isas, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setIsa", nullptr, set_isa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rnnForward", nullptr, rnn_forward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rnnBackward", nullptr, rnn_backward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"vaeLatent", nullptr, vae_latent, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"vaeLatentGrad", nullptr, vae_latent_grad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, relu_grad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"additiveScores", nullptr, additive_scores, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"additiveScoresGrad", nullptr, additive_scores_grad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"logitsNll", nullptr, logits_nll, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gruInfer", nullptr, gru_infer, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
