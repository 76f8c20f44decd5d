/**
 * ONNX Runtime sessions are released on every path: `dispose()`, and every load that fails after a
 * session was created (the other graph failing, names or types not matching the manifest). Checked
 * with a counting fake engine, so each path is exercised exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '@vaekit/core';
import type { Engine, GraphSession, GraphValueInfo } from './engine.js';
import { BundleError } from './errors.js';
import { openBundle } from './load.js';

const ENCODER = new TextEncoder().encode('encoder bytes');
const DECODER = new TextEncoder().encode('decoder bytes');

async function files(change: (m: any) => void = () => {}): Promise<Record<string, Uint8Array>> {
  const spec = (name: string, shape: Array<string | number>) => ({ name, dtype: 'float32', shape });
  const m: any = {
    format: 'vaekit-bundle',
    formatVersion: 1,
    kind: 'image',
    latentSize: 4,
    image: { height: 28, width: 28, channels: 1, likelihood: 'bernoulli' },
    opset: 17,
    irVersion: 8,
    profile: 'default',
    dtype: 'fp32',
    graphs: {
      encoder: { file: 'encoder.onnx', inputs: [spec('x', ['batch', 784])], outputs: [spec('mu', ['batch', 4]), spec('logvar', ['batch', 4])] },
      decoder: { file: 'decoder.onnx', inputs: [spec('z', ['batch', 4])], outputs: [spec('logits', ['batch', 784])] },
    },
    files: {
      'encoder.onnx': { sha256: await sha256Hex(ENCODER), bytes: ENCODER.length },
      'decoder.onnx': { sha256: await sha256Hex(DECODER), bytes: DECODER.length },
    },
    producer: { name: 'vaekit', version: '0' },
    createdAt: '2026-01-01T00:00:00Z',
  };
  change(m);
  return { 'manifest.json': new TextEncoder().encode(JSON.stringify(m)), 'encoder.onnx': ENCODER, 'decoder.onnx': DECODER };
}

/** A fake engine that creates sessions shaped like the real graphs and counts live ones. */
function countingEngine(options: { failDecoder?: boolean; decoderInput?: GraphValueInfo } = {}) {
  let live = 0;
  let created = 0;
  const info = (name: string, shape: Array<string | number>): GraphValueInfo => ({ name, dtype: 'float32', shape });
  const engine: Engine = {
    backends: ['cpu'],
    async createSession(model) {
      const isEncoder = new TextDecoder().decode(model) === 'encoder bytes';
      if (!isEncoder && options.failDecoder) throw new Error('Protobuf parsing failed.');
      created++;
      live++;
      let released = false;
      const inputs = isEncoder ? [info('x', ['batch', 784])] : [options.decoderInput ?? info('z', ['batch', 4])];
      const outputs = isEncoder ? [info('mu', ['batch', 4]), info('logvar', ['batch', 4])] : [info('logits', ['batch', 784])];
      const session: GraphSession = {
        inputNames: inputs.map((i) => i.name),
        outputNames: outputs.map((o) => o.name),
        inputInfo: inputs,
        outputInfo: outputs,
        async run() {
          throw new Error('not used');
        },
        async release() {
          assert.equal(released, false, 'a session is released once');
          released = true;
          live--;
        },
      };
      return session;
    },
  };
  return { engine, live: () => live, created: () => created };
}

const reader = (f: Record<string, Uint8Array>) => async (rel: string) => {
  const bytes = f[rel];
  if (!bytes) throw new BundleError(`missing ${rel}`);
  return bytes;
};

test('dispose() releases both sessions, once', async () => {
  const c = countingEngine();
  const vae = await openBundle(reader(await files()), c.engine);
  assert.equal(c.live(), 2);
  await vae.dispose();
  await vae.dispose();
  assert.equal(c.live(), 0);
});

test('a load that fails after creating sessions releases them', async () => {
  const cases: Array<[string, ReturnType<typeof countingEngine>, (m: any) => void, RegExp]> = [
    ['the decoder does not load', countingEngine({ failDecoder: true }), () => {}, /decoder\.onnx could not be loaded/],
    ['an input name is not in the graph', countingEngine(), (m) => (m.graphs.decoder.inputs[0].name = 'latent'), /input "latent" not found/],
    ['an output name is not in the graph', countingEngine(), (m) => (m.graphs.encoder.outputs[1].name = 'sigma'), /output "sigma" not found/],
    ['a dtype differs from the graph', countingEngine({ decoderInput: { name: 'z', dtype: 'float16', shape: ['batch', 4] } }), () => {}, /input "z" has dtype float16 in the graph, float32 in the manifest/],
    ['a fixed dimension differs from the graph', countingEngine({ decoderInput: { name: 'z', dtype: 'float32', shape: [1, 4] } }), (m) => (m.graphs.decoder.inputs[0].shape = [2, 4]), /input "z" has shape \[1, 4\] in the graph, \[2, 4\] in the manifest/],
  ];
  for (const [name, c, change, message] of cases) {
    await assert.rejects(openBundle(reader(await files(change)), c.engine), (e: Error) => e instanceof BundleError && message.test(e.message), name);
    assert.equal(c.live(), 0, `${name}: every created session was released (${c.created()} created)`);
  }
});

test('symbolic dimensions and undeclared shapes match anything', async () => {
  const c = countingEngine({ decoderInput: { name: 'z', dtype: 'float32', shape: ['n', 'latent'] } });
  const vae = await openBundle(reader(await files()), c.engine);
  await vae.dispose();
  const d = countingEngine({ decoderInput: { name: 'z', dtype: 'float32', shape: [] } });
  await (await openBundle(reader(await files()), d.engine)).dispose();
});
