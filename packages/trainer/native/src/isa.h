// Vector width of the translation unit being compiled. The kernel sources (gemm.cc, xent.cc, rnn.cc,
// optim.cc, table.cc) are compiled once per instruction set, each time with its own -m flags and with
// VK_ISA naming the namespace that keeps the copies apart (see binding.gyp); dispatch.cc picks one at
// run time from the CPU's features.
#pragma once

#ifndef VK_ISA
#error "VK_ISA must name the instruction set this file is compiled for (see binding.gyp)"
#endif

namespace vk {
namespace VK_ISA {
#if defined(__AVX512F__)
constexpr int VW = 16;  // floats per vector register
constexpr int MR = 8;   // rows of the micro-tile: 8 x 2 accumulators of 16 = 16 of 32 zmm registers
#elif defined(__AVX__)
constexpr int VW = 8;
constexpr int MR = 6;  // 6 x 2 accumulators of 8 = 12 of 16 ymm registers
#elif defined(VK_SCALAR)
constexpr int VW = 1;  // plain C++: one-float "vectors", so the x86 build also runs what a non-SIMD target runs
constexpr int MR = 6;
#else
constexpr int VW = 4;  // SSE2 (baseline x86-64), NEON (arm64) or whatever the compiler makes of 16 bytes
constexpr int MR = 6;
#endif
}  // namespace VK_ISA
}  // namespace vk
