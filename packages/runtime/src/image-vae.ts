/** The platform-neutral image VAE over two ONNX sessions. */
import type { GraphSpec, ImageBundleManifest, ImageGraphs } from '@vaekit/core';
import { floatOutput, type GraphSession } from './engine.js';
import { InputError, RuntimeError } from './errors.js';
import { interpolateLatent, samplePrior } from './latent.js';
import type { BackendName, ImageVae, InterpolateOptions, Posterior, SampleOptions } from './types.js';

/** Largest batch sent to ONNX Runtime in one run; bigger requests are split. */
const MAX_BATCH = 1024;

function checkVectors(what: string, vectors: Float32Array[], length: number): void {
  if (!Array.isArray(vectors) || vectors.length === 0) throw new InputError(`${what}: expected a non-empty array of Float32Array.`);
  vectors.forEach((v, i) => {
    if (!(v instanceof Float32Array) || v.length !== length) {
      throw new InputError(`${what}[${i}] must be a Float32Array of length ${length}, got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}.`);
    }
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j])) throw new InputError(`${what}[${i}] contains ${v[j]} at index ${j}; only finite numbers are accepted.`);
    }
  });
}

function pack(vectors: Float32Array[], length: number): Float32Array {
  const data = new Float32Array(vectors.length * length);
  vectors.forEach((v, i) => data.set(v, i * length));
  return data;
}

function unpack(data: Float32Array, rows: number, length: number): Float32Array[] {
  return Array.from({ length: rows }, (_, i) => data.slice(i * length, (i + 1) * length));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

class OnnxImageVae implements ImageVae {
  readonly kind = 'image' as const;
  readonly latentSize: number;
  readonly imageShape: readonly [number, number, number];
  private readonly pixels: number;
  private disposed = false;

  constructor(
    readonly manifest: ImageBundleManifest,
    readonly backend: BackendName,
    readonly variant: string,
    private readonly encoder: GraphSession,
    private readonly decoder: GraphSession,
    /** The graph specs of the variant in use. */
    private readonly graphs: ImageGraphs,
  ) {
    this.latentSize = manifest.latentSize;
    const { height, width, channels } = manifest.image;
    this.imageShape = [height, width, channels];
    this.pixels = height * width * channels;
  }

  private live(): void {
    if (this.disposed) throw new RuntimeError('This VAE was disposed; load the bundle again.', { userError: false });
  }

  private async runBatched(session: GraphSession, spec: GraphSpec, rows: Float32Array[], width: number): Promise<Record<string, Float32Array[]>> {
    const input = spec.inputs[0]!.name;
    const out: Record<string, Float32Array[]> = {};
    for (const o of spec.outputs) out[o.name] = [];
    for (let start = 0; start < rows.length; start += MAX_BATCH) {
      const chunk = rows.slice(start, start + MAX_BATCH);
      const result = await session.run({ [input]: { data: pack(chunk, width), dims: [chunk.length, width] } });
      for (const o of spec.outputs) {
        const data = floatOutput(result, o.name, spec.file);
        out[o.name]!.push(...unpack(data, chunk.length, data.length / chunk.length));
      }
    }
    return out;
  }

  async encode(images: Float32Array[]): Promise<Posterior> {
    this.live();
    checkVectors('images', images, this.pixels);
    const spec = this.graphs.encoder;
    const out = await this.runBatched(this.encoder, spec, images, this.pixels);
    return { mu: out[spec.outputs[0]!.name]!, logvar: out[spec.outputs[1]!.name]! };
  }

  async decodeLogits(z: Float32Array[]): Promise<Float32Array[]> {
    this.live();
    checkVectors('z', z, this.latentSize);
    const spec = this.graphs.decoder;
    const out = await this.runBatched(this.decoder, spec, z, this.latentSize);
    return out[spec.outputs[0]!.name]!;
  }

  async decode(z: Float32Array[]): Promise<Float32Array[]> {
    return (await this.decodeLogits(z)).map((logits) => logits.map(sigmoid));
  }

  async sample(n: number, options: SampleOptions = {}): Promise<{ z: Float32Array[]; images: Float32Array[] }> {
    if (!Number.isInteger(n) || n <= 0 || n > 100_000) throw new InputError(`n must be a positive integer (at most 100000), got ${n}.`);
    const temperature = options.latentTemperature ?? options.temperature ?? 1;
    const name = options.latentTemperature !== undefined ? 'latentTemperature' : 'temperature';
    if (!(temperature > 0) || !Number.isFinite(temperature)) throw new InputError(`${name} must be a positive number, got ${temperature}.`);
    const z = samplePrior(n, this.latentSize, options.seed ?? 0, temperature);
    return { z, images: await this.decode(z) };
  }

  async reconstruct(images: Float32Array[]): Promise<Float32Array[]> {
    return this.decode((await this.encode(images)).mu);
  }

  async interpolate(a: Float32Array, b: Float32Array, options: InterpolateOptions = {}): Promise<Float32Array[]> {
    const { mu } = await this.encode([a, b]);
    return this.decode(interpolateLatent(mu[0]!, mu[1]!, options.steps ?? 8, options.method ?? 'linear'));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

/** Wraps verified sessions into the public {@link ImageVae}. */
export function createImageVae(
  manifest: ImageBundleManifest,
  backend: BackendName,
  variant: string,
  encoder: GraphSession,
  decoder: GraphSession,
  graphs: ImageGraphs,
): ImageVae {
  return new OnnxImageVae(manifest, backend, variant, encoder, decoder, graphs);
}
