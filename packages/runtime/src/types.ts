/** Public types of @vaekit/runtime, shared by the Node and browser entry points. */
import type { BundleManifest } from './bundle.js';

/** Execution backends. Node: `cpu`. Browsers (later): `wasm`, `webgl`, `webgpu`. */
export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';

/** Options of `loadVae`. */
export interface LoadOptions {
  /** Execution backend; Node defaults to `cpu`. */
  backend?: BackendName;
  /** Intra-op threads for the CPU backend (default: ONNX Runtime's choice). */
  threads?: number;
  /** Reports loading steps: which file is being verified or compiled. */
  onProgress?: (event: { stage: 'manifest' | 'verify' | 'session'; file: string }) => void;
}

/** How to move between two latent vectors. */
export type InterpolationMethod = 'linear' | 'slerp';

/** Options of `interpolate`. */
export interface InterpolateOptions {
  /** Number of points including both ends (>= 2). Default 8. */
  steps?: number;
  /** Default `linear`. `slerp` follows the great circle, which keeps Gaussian samples typical. */
  method?: InterpolationMethod;
}

/** Options of `sample`. */
export interface SampleOptions {
  /** Seed of the prior draw; the same seed gives the same z in Node and browsers. */
  seed?: number;
  /** Scales the prior's standard deviation (default 1). */
  temperature?: number;
}

/** Posterior parameters of q(z|x), one vector per example. */
export interface Posterior {
  mu: Float32Array[];
  logvar: Float32Array[];
}

/**
 * A loaded image VAE bundle. Images are flat row-major `H*W*C` arrays of pixel intensities in [0, 1];
 * latent vectors are `Float32Array`s of length `latentSize`.
 */
export interface ImageVae {
  readonly manifest: BundleManifest;
  readonly latentSize: number;
  /** `[height, width, channels]`. */
  readonly imageShape: readonly [number, number, number];
  /** The backend the sessions run on. */
  readonly backend: BackendName;
  /** Parameters of q(z|x) for each image. */
  encode(images: Float32Array[]): Promise<Posterior>;
  /** Bernoulli means sigmoid(logits) for each latent vector. */
  decode(z: Float32Array[]): Promise<Float32Array[]>;
  /** Raw decoder logits for each latent vector. */
  decodeLogits(z: Float32Array[]): Promise<Float32Array[]>;
  /** Draws `n` latent vectors from the prior N(0, I) and decodes them. */
  sample(n: number, options?: SampleOptions): Promise<{ z: Float32Array[]; images: Float32Array[] }>;
  /** Decodes each image's posterior mean. */
  reconstruct(images: Float32Array[]): Promise<Float32Array[]>;
  /** Encodes `a` and `b`, walks between their posterior means and decodes every point. */
  interpolate(a: Float32Array, b: Float32Array, options?: InterpolateOptions): Promise<Float32Array[]>;
  /** Releases the ONNX Runtime sessions. Further calls throw. */
  dispose(): Promise<void>;
}
