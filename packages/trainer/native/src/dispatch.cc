// Picks the kernels' instruction set at run time. The addon carries one copy of the kernels per
// instruction set (isa.h, binding.gyp); this file, compiled with the baseline flags, chooses the widest
// copy the CPU and operating system can run, or the one VAEKIT_NATIVE_ISA names (tests force each path
// that way), so one build runs on any CPU of its architecture.
#include <cstdio>
#include <cstring>

#include "kernels.h"

namespace vk {

#if defined(VK_HAVE_X86)
namespace avx512 {
extern const Kernels table;
}
namespace avx2 {
extern const Kernels table;
}
namespace sse {
extern const Kernels table;
}
#endif
namespace generic {
extern const Kernels table;
}

namespace {

struct Entry {
  const Kernels* kernels;
  bool (*runs)();
};

// __builtin_cpu_supports also checks that the operating system saves the wider registers (XCR0).
#if defined(VK_HAVE_X86)
bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma");
}
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
bool always() { return true; }

// Widest first.
const Entry kEntries[] = {
#if defined(VK_HAVE_X86)
    {&avx512::table, has_avx512},
    {&avx2::table, has_avx2},
    {&sse::table, always},  // SSE2 is part of x86-64
#endif
    {&generic::table, always},
};

const Kernels* g_current = nullptr;
char g_reason[256];

}  // namespace

int supported_isas(const char** names, int max) {
  int n = 0;
  for (const Entry& e : kEntries)
    if (n < max && e.runs()) names[n++] = e.kernels->name;
  return n;
}

const char* select_isa(const char* name) {
  for (const Entry& e : kEntries) {
    if (std::strcmp(e.kernels->name, name) != 0) continue;
    if (!e.runs()) break;
    g_current = e.kernels;
    return nullptr;
  }
  const char* names[8];
  const int n = supported_isas(names, 8);
  bool built = false;
  for (const Entry& e : kEntries) built = built || std::strcmp(e.kernels->name, name) == 0;
  char list[128] = "";
  for (int i = 0; i < n; i++) {
    if (i) std::strncat(list, ", ", sizeof(list) - std::strlen(list) - 1);
    std::strncat(list, names[i], sizeof(list) - std::strlen(list) - 1);
  }
  std::snprintf(g_reason, sizeof(g_reason), "%s (this CPU runs: %s)",
                built ? "not supported by this CPU" : "not an instruction set of this build", list);
  return g_reason;
}

const Kernels& kernels() {
  if (!g_current) {
    for (const Entry& e : kEntries)
      if (e.runs()) {
        g_current = e.kernels;
        break;
      }
  }
  return *g_current;
}

}  // namespace vk
