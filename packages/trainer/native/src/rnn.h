// Fused recurrent layers (whole-sequence forward and backward); see rnn.cc.
#pragma once
#include <node_api.h>

namespace vk {
/** Adds the recurrent kernels to the addon's exports. */
void register_rnn(napi_env env, napi_value exports);
}  // namespace vk
