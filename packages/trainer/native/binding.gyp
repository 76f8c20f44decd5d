# One portable build: the kernel sources are compiled once per instruction set into static libraries,
# each with its own -m flags and VK_ISA naming its namespace (src/isa.h); the addon, compiled with the
# baseline flags of the target architecture (never -march=native), picks one at run time
# (src/dispatch.cc). x64 carries avx512, avx2, sse and generic copies; other architectures generic only.
{
  "variables": {
    "vk_kernel_sources": ["src/gemm.cc", "src/xent.cc", "src/rnn.cc", "src/optim.cc", "src/vae.cc", "src/attention.cc", "src/table.cc", "src/nll.cc", "src/gru_infer.cc"],
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fPIC"],
    "xcode_settings": {
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-fno-math-errno"],
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    },
    "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17"] } }
  },
  "targets": [
    {
      "target_name": "vaekit_native",
      "sources": ["src/addon.cc", "src/dispatch.cc", "src/parallel.cc"],
      "dependencies": ["vk_generic"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["VK_HAVE_X86"],
          "dependencies": ["vk_avx512", "vk_avx2", "vk_sse"]
        }]
      ]
    },
    {
      "target_name": "vk_generic",
      "type": "static_library",
      "sources": ["<@(vk_kernel_sources)"],
      "defines": ["VK_ISA=generic"],
      "conditions": [
        # On x64 the 4-wide copy is the sse one; generic stays plain scalar C++ there, so the x86 build
        # also runs (and tests) what a target without SIMD would.
        ["target_arch=='x64'", { "defines": ["VK_SCALAR"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "vk_sse",
          "type": "static_library",
          "sources": ["<@(vk_kernel_sources)"],
          "defines": ["VK_ISA=sse"]
        },
        {
          "target_name": "vk_avx2",
          "type": "static_library",
          "sources": ["<@(vk_kernel_sources)"],
          "defines": ["VK_ISA=avx2"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"] }
        },
        {
          "target_name": "vk_avx512",
          "type": "static_library",
          "sources": ["<@(vk_kernel_sources)"],
          "defines": ["VK_ISA=avx512"],
          "cflags_cc": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"] }
        }
      ]
    }]
  ]
}
