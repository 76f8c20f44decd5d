// Fused recurrent layers (whole-sequence forward and backward); see rnn.cc.
#pragma once
#include "kernels.h"

namespace vk {
namespace VK_ISA {
/** Forward of a whole sequence; see rnn.cc for the buffers. */
void rnn_forward(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                 const float* bias, const float* h0, const float* c0, const float* mask, float* Y, float* hLast,
                 float* cLast, float* WS, float* HP, float* AUX);
/** Backward of a whole sequence; see rnn.cc. */
void rnn_backward(int kind, int act, bool seq, const RnnDims& d, const float* X, const float* W, const float* U,
                  const float* mask, const float* WS, const float* HP, const float* AUX, const float* dY, float* dX,
                  float* dW, float* dU, float* db, float* dh0, float* dc0);
/**
 * GRU forward for evaluation (see gru_infer.cc): X [B,T,I], W [I,3H], U [H,3H], bias [3H] or null,
 * h0 [B,H] -> Y [B,T,H]; act 0 hardSigmoid, 1 sigmoid; no mask, nothing kept for a gradient.
 */
void gru_infer(int act, const RnnDims& d, const float* X, const float* W, const float* U, const float* bias,
               const float* h0, float* Y);
}  // namespace VK_ISA
}  // namespace vk
