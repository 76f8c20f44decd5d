/**
 * Consistency checks between a bundle's manifest and its graphs, beyond names and hashes: a manifest
 * that promises shapes or dtypes the ONNX file does not have is refused at load time, naming the
 * tensor, rather than failing later inside ONNX Runtime with a message about feeds.
 */
import type { GraphSpec, ImageBundleManifest, TensorSpec } from '@vaekit/core';
import type { GraphSession, GraphValueInfo } from './engine.js';
import { BundleError, quote } from './errors.js';

/**
 * Throws {@link BundleError} (after releasing `session`) when a tensor of `spec` has another dtype,
 * rank or fixed dimension in the graph than in the manifest.
 */
export async function assertGraphTypes(spec: GraphSpec, session: GraphSession): Promise<void> {
  const problem = typeProblem(spec.inputs, session.inputInfo, 'input') ?? typeProblem(spec.outputs, session.outputInfo, 'output');
  if (problem) {
    await session.release();
    throw new BundleError(`${spec.file} does not match manifest.json: ${problem}`);
  }
}

const showShape = (shape: ReadonlyArray<number | string>) => `[${shape.join(', ')}]`;

/**
 * The first disagreement between the manifest's tensors and the graph's declared ones: dtype, rank, or
 * a fixed dimension. Symbolic dimensions on either side match anything; undeclared shapes are not checked.
 */
function typeProblem(specs: TensorSpec[], info: readonly GraphValueInfo[] | undefined, what: string): string | undefined {
  if (!info) return undefined;
  for (const t of specs) {
    const g = info.find((i) => i.name === t.name);
    if (!g) continue;
    if (g.dtype !== t.dtype) return `${what} ${quote(t.name)} has dtype ${g.dtype} in the graph, ${t.dtype} in the manifest.`;
    if (g.shape.length === 0) continue;
    // 0 and names are dynamic dimensions (the webgl profile writes 0).
    const fixedMismatch = t.shape.some((d, i) => typeof d === 'number' && d > 0 && typeof g.shape[i] === 'number' && (g.shape[i] as number) > 0 && d !== g.shape[i]);
    if (g.shape.length !== t.shape.length || fixedMismatch) {
      return `${what} ${quote(t.name)} has shape ${showShape(g.shape)} in the graph, ${showShape(t.shape)} in the manifest.`;
    }
  }
  return undefined;
}

/** The last dimension of a tensor when it is fixed. */
const lastDim = (t: TensorSpec | undefined): number | undefined => {
  const d = t?.shape[t.shape.length - 1];
  return typeof d === 'number' ? d : undefined;
};

/** Checks that an image bundle's graphs fit its image size and latent size (both from the manifest). */
export function checkImageInterface(manifest: ImageBundleManifest): void {
  const { height, width, channels } = manifest.image;
  const pixels = height * width * channels;
  const { encoder, decoder } = manifest.graphs;
  const expect: Array<[string, TensorSpec | undefined, number, string]> = [
    [`graphs.encoder input ${quote(encoder.inputs[0]?.name)}`, encoder.inputs[0], pixels, `${height}x${width}x${channels} image`],
    [`graphs.encoder output ${quote(encoder.outputs[0]?.name)}`, encoder.outputs[0], manifest.latentSize, 'latentSize'],
    [`graphs.encoder output ${quote(encoder.outputs[1]?.name)}`, encoder.outputs[1], manifest.latentSize, 'latentSize'],
    [`graphs.decoder input ${quote(decoder.inputs[0]?.name)}`, decoder.inputs[0], manifest.latentSize, 'latentSize'],
    [`graphs.decoder output ${quote(decoder.outputs[0]?.name)}`, decoder.outputs[0], pixels, `${height}x${width}x${channels} image`],
  ];
  for (const [where, spec, want, why] of expect) {
    if (!spec) throw new BundleError(`manifest.json: ${where} is missing (an image bundle needs encoder x -> mu, logvar and decoder z -> logits).`);
    if (spec.dtype !== 'float32') throw new BundleError(`manifest.json: ${where} has dtype ${spec.dtype}; image bundles use float32.`);
    const last = lastDim(spec);
    if (last !== undefined && last > 0 && last !== want) {
      throw new BundleError(`manifest.json: ${where} has size ${last}, but the ${why} needs ${want}.`);
    }
  }
}

