// Vector math shared by the kernel sources: GCC vector types of this copy's width (isa.h) and an exp
// for non-positive arguments. Included inside each source's namespace vk::VK_ISA, so every
// instruction-set copy gets its own functions (static: nothing here is shared across copies, no weak symbol for the linker to pick).
#pragma once

#include <cstdint>
#include <cstring>

#include "isa.h"

namespace vk {
namespace VK_ISA {

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));

// exp for x <= 0 (arguments are logits minus the row maximum): 2^n * p(r), |r| <= ln2/2, degree-6
// polynomial (Cephes expf coefficients), about 1 ulp; underflows to 0 below -87.
static inline vf vexp(vf x) {
  const vf lo = x < -87.f ? vf{} + 1.f : vf{};
  x = x < -87.f ? vf{} - 87.f : x;
  vf f = x * 1.44269504088896341f + 0.5f;
  vi i = __builtin_convertvector(f, vi);
  vf fi = __builtin_convertvector(i, vf);
  i = fi > f ? i - 1 : i;  // floor
  fi = __builtin_convertvector(i, vf);
  vf r = x - fi * 0.693359375f - fi * -2.12194440e-4f;
  vf p = vf{} + 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.f;
  vi bits = (i + 127) << 23;
  vf scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  vf out = p * scale;
  return lo != 0.f ? vf{} : out;
}

}  // namespace VK_ISA
}  // namespace vk
