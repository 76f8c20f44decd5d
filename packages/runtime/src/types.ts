/** Public types of @vaekit/runtime, shared by the Node and browser entry points. */
import type { ImageBundleManifest, TextBundleManifest } from '@vaekit/core';
import type { DecodingOptions } from '@vaekit/core';
import type { WordTokenizer } from '@vaekit/core';

/** Execution backends. Node: `cpu` (default), `wasm`. Browsers: `wasm` (default), `webgl`, `webgpu`. */
export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';

/** Every backend name, for messages and CLI choices. */
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgl', 'webgpu'];

/**
 * One progress event of `loadVae`. Per file: `verify` (the file is about to be read), then `download`
 * events as its bytes arrive (the first with `loaded: 0`, the last with `loaded === total`, also for
 * files read from disk, memory or the browser cache), then `session` for each graph compiled.
 */
export interface LoadProgress {
  stage: 'manifest' | 'verify' | 'download' | 'session' | 'fallback';
  file: string;
  /** The backend being tried. */
  backend?: BackendName;
  /** For `fallback`: why the previous backend was given up. */
  message?: string;
  /** For `download`: bytes of `file` received so far. */
  loaded?: number;
  /** For `download`: size of `file` in bytes (from the manifest, or the server's Content-Length); absent when unknown. */
  total?: number;
  /** For `download`: true when the bytes came from the browser cache instead of the network. */
  fromCache?: boolean;
}

/** Options of `loadVae`. */
export interface LoadOptions {
  /**
   * Execution backend, or an ordered list to try until one loads every graph (e.g.
   * `['webgpu', 'webgl', 'wasm']`). Node defaults to `cpu`, browsers to `wasm`.
   */
  backend?: BackendName | readonly BackendName[];
  /** Threads: intra-op threads on `cpu`, WASM threads on `wasm` (browsers need cross-origin isolation). */
  threads?: number;
  /** Refuse a bundle of the other kind (throws {@link BundleError}); the result is then typed by kind. */
  kind?: string;
  /** Reports loading steps: which file is being downloaded (bytes loaded / total), verified or compiled. */
  onProgress?: (event: LoadProgress) => void;
  /**
   * Which weight dtype to load when the bundle carries several (`fp32`, `fp16`, `int8`; see
   * `manifest.dtypes`). Default: the bundle's own `manifest.dtype`. A dtype the bundle lacks throws
   * {@link BundleError} naming the ones it has. The `webgl` variant is fp32 whatever is asked.
   */
  dtype?: string;
  /**
   * Browsers: keep bundle files in the Cache API (cache `vaekit-bundles`), keyed by the sha256 the
   * manifest gives, so a reload does not download them again. A file whose bytes no longer match is
   * evicted and fetched again; `manifest.json` itself is always fetched. Default true where
   * `caches` exists and the bundle comes from a URL; `false` opts out. An object names the cache
   * or supplies another `CacheStorage`.
   */
  cache?: boolean | { name?: string; storage?: CacheStorage };
}

/** How to move between two latent vectors. */
export type InterpolationMethod = 'linear' | 'slerp';

/** Options of `interpolate`. */
export interface InterpolateOptions {
  /** Number of points including both ends (>= 2). Default 8 for images, 5 for sentences. */
  steps?: number;
  /** Default `linear`. `slerp` follows the great circle, which keeps Gaussian samples typical. */
  method?: InterpolationMethod;
}

/** Options of the image `sample`. */
export interface SampleOptions {
  /** Seed of the prior draw; the same seed gives the same z in Node and browsers. */
  seed?: number;
  /** Scales the prior's standard deviation (default 1). */
  latentTemperature?: number;
  /**
   * @deprecated Use `latentTemperature`: `temperature` means the logits' temperature everywhere else.
   * Still read as the prior scale of image sampling for one release.
   */
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
  readonly kind: 'image';
  readonly manifest: ImageBundleManifest;
  /** Export profile of the graphs in use (`default`, or e.g. `webgl` when the backend needed that variant). */
  readonly variant: string;
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

/** Where a bundle comes from: a folder path (Node) or base URL (browsers), or its files by relative path. */
export type BundleSource = string | URL | Record<string, Uint8Array | ArrayBuffer>;

/** Options of text generation: a decoding strategy, and where the latent vectors come from. */
export interface GenerateOptions extends DecodingOptions {
  /** Latent vectors to decode, one sequence each (batched through the decoder together). */
  z?: Float32Array[];
  /** Without `z`: how many latent vectors to draw from the prior (default 1), with `latentSeed`. */
  n?: number;
  /** Seed of the prior draw when `z` is not given (default: `seed`). */
  latentSeed?: number;
  /** Scales the prior's standard deviation when `z` is not given (default 1). */
  latentTemperature?: number;
}

/** One generated sentence. */
export interface Generation {
  text: string;
  /** Token ids, without `<bos>`; ends with `<eos>` when `finished`. */
  tokenIds: number[];
  /** The tokens of `tokenIds` as strings. */
  tokens: string[];
  /** Log-probability of each token under the distribution it was chosen from (see docs). */
  logprobs: number[];
  /** Sum of `logprobs`. */
  logprob: number;
  /** True when the sentence ended with `<eos>`, false when `maxTokens` cut it. */
  finished: boolean;
  /** The latent vector it was decoded from. */
  z: Float32Array;
}

/** One token of `stream()`. */
export interface StreamToken {
  /** Which latent vector (sequence) of the batch. */
  index: number;
  tokenId: number;
  token: string;
  logprob: number;
  /** True on the sequence's last token. */
  done: boolean;
}

/**
 * A loaded sentence VAE bundle. Sentences go in as strings; latent vectors are `Float32Array`s of
 * length `latentSize`. Generation runs `decoder_init` once and `decoder_step` once per token, for the
 * whole batch at a time.
 */
export interface TextVae {
  readonly kind: 'text';
  readonly manifest: TextBundleManifest;
  readonly latentSize: number;
  readonly backend: BackendName;
  /** Export profile of the graphs in use. */
  readonly variant: string;
  readonly tokenizer: WordTokenizer;
  /** Parameters of q(z|x) for each sentence (words beyond the bundle's `maxLength` are cut). */
  encode(sentences: string[]): Promise<Posterior>;
  /** Generates one sentence per latent vector (or per prior draw, with `n`). */
  generate(options?: GenerateOptions): Promise<Generation[]>;
  /** The tokens of {@link generate} as they are chosen (greedy and sample strategies). */
  stream(options?: GenerateOptions): AsyncIterable<StreamToken>;
  /**
   * Draws `n` latent vectors from the prior (`seed`, and `latentTemperature` scaling the prior as for
   * images) and generates from them with the given strategy (default greedy; sampling also uses `seed`,
   * and `temperature` is the logits' temperature, as in {@link generate}).
   */
  sample(n: number, options?: TextSampleOptions): Promise<Generation[]>;
  /** Decodes each sentence's posterior mean. */
  reconstruct(sentences: string | string[], options?: DecodingOptions): Promise<Generation[]>;
  /**
   * Encodes both sentences and generates from `steps` points (default 5) between their posterior
   * means; `options` may be just the number of steps.
   */
  interpolate(a: string, b: string, options?: number | (InterpolateOptions & DecodingOptions)): Promise<Generation[]>;
  /** Releases the ONNX Runtime sessions. Further calls throw. */
  dispose(): Promise<void>;
}

/** Either kind of loaded bundle; check `kind`. */
export type Vae = ImageVae | TextVae;

/**
 * Options of the text `sample`: `seed` draws the prior (and the sampling), `latentTemperature` scales the
 * prior, the rest choose the decoding (`temperature` is the logits').
 */
export type TextSampleOptions = Omit<SampleOptions, 'temperature'> & DecodingOptions;
