/** `@vaekit/core/tfjs`: reading and writing tfjs layers models in a folder (needs `@tensorflow/tfjs`). */
export * from './model-io.js';
