// This instruction set's entry in the kernel table (kernels.h); compiled once per copy like the kernels.
#include "attention.h"
#include "gemm.h"
#include "kernels.h"
#include "nll.h"
#include "optim.h"
#include "rnn.h"
#include "vae.h"
#include "xent.h"

#define VK_STR2(x) #x
#define VK_STR(x) VK_STR2(x)

namespace vk {
namespace VK_ISA {

extern const Kernels table = {
    VK_STR(VK_ISA),   sgemm, softmax_xent, softmax_xent_grad, bce_logits_sum, bce_logits_sum_grad, adam,
    rnn_forward, rnn_backward, vae_latent, vae_latent_grad, relu_grad, additive_scores, additive_scores_grad,
    logits_nll, gru_infer,
};

}  // namespace VK_ISA
}  // namespace vk
