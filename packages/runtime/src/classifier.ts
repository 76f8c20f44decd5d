/**
 * The classifier facade (docs/classifier.md) over a classifier bundle's sessions: `classify` (batched),
 * `encode` (M1, M2) and, for M2 with a GRU, `generate({ label })` through the text kind's own step
 * decoder with `z = [z; onehot(label)]`.
 */
import { CLASSIFIER_MODEL, EOS_ID, TEXT_MODEL, bowFeatures, type ClassifierSpec, type GraphSpec, type TextBundleManifest, type WordTokenizer, type BundleManifestBase } from '@vaekit/core';
import type { GraphSession } from './engine.js';
import { InputError, RuntimeError } from './errors.js';
import { samplePrior } from './latent.js';
import { createTextVae } from './text-vae.js';
import type { BackendName, GenerateOptions, Generation, Posterior, TextVae } from './types.js';

/** `manifest.json` of a classifier bundle. */
export interface ClassifierBundleManifest extends BundleManifestBase {
  kind: 'classifier';
  classifier: ClassifierSpec;
  graphs: Record<string, GraphSpec>;
}

/** One text's classification. */
export interface Classification {
  /** The predicted class (the moved threshold of the bundle applied, when it has one). */
  label: string;
  /** Probability of each class, by name. */
  probabilities: Record<string, number>;
}

/** Options of {@link TextClassifier.generate}: the text kind's, plus the class to generate. */
export interface ClassGenerateOptions extends Omit<GenerateOptions, 'z'> {
  /** Class name (or index) whose decoder generates. */
  label: string | number;
}

/** A loaded classifier bundle. */
export interface TextClassifier {
  readonly kind: 'classifier';
  readonly manifest: ClassifierBundleManifest;
  readonly backend: BackendName;
  /** Export profile of the graphs in use (`default`, `webgl`). */
  readonly variant: string;
  /** Latent size (m1, m2; the number of classes for a supervised bundle). */
  readonly latentSize: number;
  /** Class names, in output order. */
  readonly labels: readonly string[];
  readonly tokenizer: WordTokenizer;
  /** Classifies texts, batched through the graph. */
  classify(texts: string | string[]): Promise<Classification[]>;
  /** Posterior means and log-variances (m1, m2; m2 conditions on the predicted class). */
  encode(texts: string | string[]): Promise<Posterior>;
  /** Whether {@link generate} is available (m2 with a GRU). */
  readonly canGenerate: boolean;
  /** Generates texts of one class (m2 with a GRU). */
  generate(options: ClassGenerateOptions): Promise<Generation[]>;
  dispose(): Promise<void>;
}

const G = CLASSIFIER_MODEL.graphs;
const I = CLASSIFIER_MODEL.inputs;
const MAX_BATCH = 256;

class OnnxClassifier implements TextClassifier {
  readonly kind = 'classifier' as const;
  readonly labels: readonly string[];
  readonly canGenerate: boolean;
  readonly latentSize: number;
  private readonly spec: ClassifierSpec;
  private readonly decoder?: TextVae;
  private disposed = false;

  constructor(
    readonly manifest: ClassifierBundleManifest,
    readonly backend: BackendName,
    readonly variant: string,
    readonly tokenizer: WordTokenizer,
    private readonly sessions: Record<string, GraphSession>,
    graphs: Record<string, GraphSpec>,
  ) {
    this.spec = manifest.classifier;
    this.latentSize = manifest.latentSize;
    this.labels = this.spec.labels;
    this.canGenerate = Boolean(sessions.decoder_init && sessions.decoder_step && this.spec.hiddenSize && this.spec.latentSize);
    if (this.canGenerate) {
      // The text kind's step decoder, as a text bundle whose latent is [z; onehot(y)].
      const text: TextBundleManifest = {
        ...(manifest as unknown as TextBundleManifest),
        kind: 'text',
        latentSize: this.spec.latentSize! + this.labels.length,
        text: {
          cell: 'gru',
          vocabSize: this.spec.vocabSize,
          embeddingSize: 1,
          hiddenSize: this.spec.hiddenSize!,
          maxLength: this.spec.maxLength,
          stateNames: ['h'],
          specialTokens: { ...TEXT_MODEL.specialIds },
          tokenizer: this.spec.tokenizer,
        },
      };
      this.decoder = createTextVae(text, backend, variant, tokenizer, { encoder: sessions.encoder!, decoder_init: sessions.decoder_init!, decoder_step: sessions.decoder_step! }, graphs);
    }
  }

  private live(): void {
    if (this.disposed) throw new RuntimeError('This classifier was disposed; load the bundle again.', { userError: false });
  }

  private texts(input: string | string[]): string[] {
    const texts = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) throw new InputError('texts: expected a string or a non-empty array of strings.');
    return texts;
  }

  /** The graph input of a batch: bag-of-words features, or tokens (ids + `<eos>`, right-padded) and lengths. */
  private feeds(texts: string[]): Record<string, { data: Float32Array | Int32Array; dims: number[] }> {
    const ids = texts.map((t) => this.tokenizer.encode(t).slice(0, this.spec.maxLength));
    if (this.spec.encoder === 'bow') {
      const V = this.spec.vocabSize;
      const features = new Float32Array(texts.length * V);
      ids.forEach((row, i) => bowFeatures(row, V, features, i * V, this.spec.bowSkip ?? 0));
      return { [I.features]: { data: features, dims: [texts.length, V] } };
    }
    const rows = ids.map((r) => [...r, EOS_ID]);
    const T = Math.max(...rows.map((r) => r.length));
    const tokens = new Int32Array(rows.length * T);
    rows.forEach((r, i) => tokens.set(r, i * T));
    return { [I.tokens]: { data: tokens, dims: [rows.length, T] }, lengths: { data: Int32Array.from(rows, (r) => r.length), dims: [rows.length] } };
  }

  private decide(p: Float32Array): string {
    const t = this.spec.threshold;
    if (t) {
      const k = this.labels.indexOf(t.label);
      if (p[k]! >= t.value) return t.label;
      let best = -1;
      p.forEach((v, c) => {
        if (c !== k && (best < 0 || v > p[best]!)) best = c;
      });
      return this.labels[best]!;
    }
    let best = 0;
    p.forEach((v, c) => {
      if (v > p[best]!) best = c;
    });
    return this.labels[best]!;
  }

  private async probabilities(texts: string[]): Promise<Float32Array[]> {
    const C = this.labels.length;
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += MAX_BATCH) {
      const chunk = texts.slice(start, start + MAX_BATCH);
      const result = await this.sessions.classify!.run(this.feeds(chunk));
      const probs = result[G.classify.outputs.probabilities]?.data as Float32Array | undefined;
      if (!probs) throw new RuntimeError(`${G.classify.file} did not produce "${G.classify.outputs.probabilities}".`, { userError: false });
      for (let i = 0; i < chunk.length; i++) out.push(probs.slice(i * C, (i + 1) * C));
    }
    return out;
  }

  async classify(input: string | string[]): Promise<Classification[]> {
    this.live();
    const probs = await this.probabilities(this.texts(input));
    return probs.map((p) => ({ label: this.decide(p), probabilities: Object.fromEntries(this.labels.map((l, c) => [l, p[c]!])) }));
  }

  async encode(input: string | string[]): Promise<Posterior> {
    this.live();
    if (!this.sessions.encoder) throw new InputError(`This ${this.spec.model} classifier has no encoder (only m1 and m2 bundles encode).`);
    const texts = this.texts(input);
    const C = this.labels.length;
    const mu: Float32Array[] = [];
    const logvar: Float32Array[] = [];
    const probs = this.spec.model === 'm2' ? await this.probabilities(texts) : [];
    for (let start = 0; start < texts.length; start += MAX_BATCH) {
      const chunk = texts.slice(start, start + MAX_BATCH);
      const feeds = this.feeds(chunk);
      if (this.spec.model === 'm2') {
        // q(z|x,y) at the predicted class.
        const y = new Float32Array(chunk.length * C);
        chunk.forEach((_, i) => (y[i * C + this.labels.indexOf(this.decide(probs[start + i]!))] = 1));
        feeds[I.y] = { data: y, dims: [chunk.length, C] };
      }
      const r = await this.sessions.encoder.run(feeds);
      const Z = this.manifest.latentSize;
      const m = r[G.encoder.outputs.mu]!.data as Float32Array;
      const lv = r[G.encoder.outputs.logvar]!.data as Float32Array;
      for (let i = 0; i < chunk.length; i++) {
        mu.push(m.slice(i * Z, (i + 1) * Z));
        logvar.push(lv.slice(i * Z, (i + 1) * Z));
      }
    }
    return { mu, logvar };
  }

  async generate(options: ClassGenerateOptions): Promise<Generation[]> {
    this.live();
    if (!this.decoder) throw new InputError(`This ${this.spec.model} ${this.spec.encoder} classifier cannot generate; only m2 bundles with a GRU encoder have a label-conditioned decoder.`);
    const C = this.labels.length;
    const k = typeof options.label === 'number' ? options.label : this.labels.indexOf(options.label);
    if (!Number.isInteger(k) || k < 0 || k >= C) throw new InputError(`Unknown label ${JSON.stringify(options.label)}. Should be one of: ${this.labels.join(', ')}.`);
    const n = options.n ?? 1;
    if (!Number.isInteger(n) || n <= 0 || n > 100_000) throw new InputError(`n must be a positive integer (at most 100000), got ${n}.`);
    const Z = this.spec.latentSize!;
    const z = samplePrior(n, Z, options.latentSeed ?? options.seed ?? 0, options.latentTemperature ?? 1).map((v) => {
      const zy = new Float32Array(Z + C);
      zy.set(v);
      zy[Z + k] = 1;
      return zy;
    });
    const { label: _label, n: _n, ...decoding } = options;
    return this.decoder.generate({ ...decoding, z });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(Object.values(this.sessions).map((s) => s.release()));
  }
}

/** Wraps verified sessions into a {@link TextClassifier}. */
export function createClassifier(
  manifest: ClassifierBundleManifest,
  backend: BackendName,
  variant: string,
  tokenizer: WordTokenizer,
  sessions: Record<string, GraphSession>,
  graphs: Record<string, GraphSpec>,
): TextClassifier {
  return new OnnxClassifier(manifest, backend, variant, tokenizer, sessions, graphs);
}
