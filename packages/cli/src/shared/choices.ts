/**
 * The fixed word lists and ranges of the command-line options. They mirror constants of the packages
 * (a unit test, choices.test.ts, checks that they agree), because declaring the options must not load
 * those packages: `vaekit --version` and `--help` load neither tfjs nor onnxruntime.
 */

/** tfjs backends for training and evaluation (`--backend`), as in @vaekit/trainer's `BACKEND_CHOICES`. */
export const TF_BACKENDS = ['auto', 'node', 'wasm', 'cpu'] as const;
/** A tfjs backend choice. */
export type TfBackend = (typeof TF_BACKENDS)[number];

/** ONNX Runtime engines of the Node runtime (`--device`, transformers.js' word). */
export const DEVICES = ['cpu', 'wasm'] as const;
/** An inference device. */
export type Device = (typeof DEVICES)[number];

/** Text decoding strategies, as in @vaekit/runtime's `DecodingStrategy`. */
export const STRATEGIES = ['greedy', 'sample', 'beam'] as const;

/** ONNX opsets the exporter writes, as @vaekit/exporter's `MIN_OPSET`, `MAX_OPSET`, `DEFAULT_OPSET`. */
export const OPSETS = { min: 13, max: 21, default: 17 } as const;

/** Weight storage of an export, as @vaekit/exporter's `WEIGHT_DTYPES`. */
export const WEIGHT_DTYPES = ['fp32', 'fp16', 'int8'] as const;
/** A weight dtype. */
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/** Graph profiles of an export, as @vaekit/exporter's `EXPORT_PROFILES`. */
export const EXPORT_PROFILES = ['default', 'webgl'] as const;
/** An export profile. */
export type ExportProfile = (typeof EXPORT_PROFILES)[number];
