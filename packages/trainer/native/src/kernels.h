// The per-instruction-set kernel table. Every copy of the kernel sources (isa.h) defines one
// vk::<isa>::table; dispatch.cc picks the one the CPU can run (or VAEKIT_NATIVE_ISA asks for) and the
// N-API layer (addon.cc) calls through it. Only plain data crosses this header: no inline functions, so
// no copy compiled with wider instructions can be chosen by the linker for baseline code.
#pragma once
#include <cstdint>

#include "optim.h"

namespace vk {

/** Sizes of a recurrent layer: batch, steps, input width, state width, gates (GRU 3, LSTM 4). */
struct RnnDims {
  int64_t B, T, I, H, G;
};

/** One instruction set's kernels (see gemm.h, xent.h, optim.h, rnn.cc, vae.h, attention.h, nll.h for what each computes). */
struct Kernels {
  const char* name;
  void (*sgemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                int64_t rsb, int64_t csb, float* c, int64_t ldc, bool accumulate, bool allow_threads);
  void (*softmax_xent)(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t n, int64_t v);
  void (*softmax_xent_grad)(const float* logits, const int32_t* labels, const float* lse, const float* dloss,
                            float* dlogits, int64_t n, int64_t v);
  void (*bce_logits_sum)(const float* logits, const float* x, float* loss, int64_t n, int64_t d);
  void (*bce_logits_sum_grad)(const float* logits, const float* x, const float* dy, float* dl, float* dx, int64_t n,
                              int64_t d);
  void (*adam)(const float* x, const float* m, const float* v, const float* g, float* xo, float* mo, float* vo,
               int64_t n, const AdamScalars& s);
  void (*rnn_forward)(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                      const float* bias, const float* h0, const float* c0, const float* mask, float* Y, float* hLast,
                      float* cLast, float* WS, float* HP, float* AUX);
  void (*rnn_backward)(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                       const float* mask, const float* WS, const float* HP, const float* AUX, const float* dY,
                       float* dX, float* dW, float* dU, float* db, float* dh0, float* dc0);
  void (*vae_latent)(const float* mu, const float* lv, const float* eps, float* z, float* kl, int64_t n, int64_t zd);
  void (*vae_latent_grad)(const float* mu, const float* lv, const float* eps, const float* dz, float coef, float* dmu,
                          float* dlv, int64_t n, int64_t zd);
  void (*relu_grad)(const float* y, const float* a, const float* b, float* out, int64_t n);
  void (*additive_scores)(const float* qa, const float* ka, const float* v, const float* mask, float* scores, float* E,
                          int64_t B, int64_t T, int64_t S, int64_t A);
  void (*additive_scores_grad)(const float* ds, const float* E, const float* v, const float* mask, float* dqa,
                               float* dka, float* dv, int64_t B, int64_t T, int64_t S, int64_t A);
  void (*logits_nll)(const float* y, const int32_t* rows, const int32_t* labels, int64_t n, const float* w,
                     const float* bias, int64_t h, int64_t v, float* nll);
  void (*gru_infer)(int act, const RnnDims& d, const float* X, const float* W, const float* U, const float* bias,
                    const float* h0, float* Y);
};

/** The kernels in use (chosen on first call from the CPU's features and VAEKIT_NATIVE_ISA). */
const Kernels& kernels();

/** The instruction sets built into this addon that this CPU can run, widest first. */
int supported_isas(const char** names, int max);

/** Switches to the named instruction set; returns nullptr, or a one-line reason it cannot. */
const char* select_isa(const char* name);

}  // namespace vk
