/**
 * `@vaekit/core`: what every vaekit package shares, in pure TypeScript (no tfjs, no ONNX Runtime, no
 * `fs`; those sides are in the `/node` and `/tfjs` subpaths): the two on-disk formats (run folder and
 * bundle) with their readers and writers, the contract of every model kind, the tokenizer, the seeded
 * RNG and the seed formulas of exact `--resume`, the decoding primitives, the error base class and the
 * text metrics (sacreBLEU-exact BLEU and chrF, distinct-n, self-BLEU).
 */
export * from './errors.js';
export * from './rng.js';
export * from './seeds.js';
export * from './tokenizer.js';
export * from './decoding.js';
export * from './bundle.js';
export * from './run-config.js';
export * from './kinds/text.js';
export * from './kinds/image.js';
export * from './kinds/classifier.js';
export * from './kinds/seq2seq.js';
export * from './metrics/bleu.js';
export * from './metrics/diversity.js';
