{
  "targets": [
    {
      "target_name": "vaekit_native",
      "sources": ["src/addon.cc", "src/gemm.cc", "src/rnn.cc", "src/xent.cc", "src/optim.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-march=native", "-std=c++17", "-fno-math-errno"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17"] } }
    }
  ]
}
