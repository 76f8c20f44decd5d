import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BundleError, assertSafeBundlePath, parseManifest, sha256Hex, verifyFile, type BundleManifest } from './bundle.js';

const HASH = 'a'.repeat(64);
function manifest(): Record<string, unknown> {
  return {
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
      encoder: { file: 'encoder.onnx', inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 784] }], outputs: [{ name: 'mu', dtype: 'float32', shape: ['batch', 4] }, { name: 'logvar', dtype: 'float32', shape: ['batch', 4] }] },
      decoder: { file: 'decoder.onnx', inputs: [{ name: 'z', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 784] }] },
    },
    files: { 'encoder.onnx': { sha256: HASH, bytes: 1 }, 'decoder.onnx': { sha256: HASH, bytes: 1 } },
    producer: { name: 'vaekit', version: '0.1.0' },
    createdAt: '2026-01-01T00:00:00Z',
  };
}

test('a complete manifest parses', () => {
  assert.equal(parseManifest(manifest()).latentSize, 4);
});

const broken: Array<[string, (m: Record<string, unknown>) => void, RegExp]> = [
  ['unknown version', (m) => (m.formatVersion = 99), /formatVersion 99 is not supported/],
  ['wrong format', (m) => (m.format = 'other'), /expected "vaekit-bundle"/],
  ['unknown kind', (m) => (m.kind = 'audio'), /kind "audio" is not supported/],
  ['missing latent size', (m) => delete m.latentSize, /latentSize/],
  ['missing graphs', (m) => delete m.graphs, /graphs is missing/],
  ['missing files', (m) => delete m.files, /files is missing/],
  ['path leaving the bundle', (m) => ((m.graphs as any).encoder.file = '../secret.onnx'), /not allowed/],
  ['absolute path in files', (m) => ((m.files as any)['/etc/passwd'] = { sha256: HASH, bytes: 1 }), /not allowed/],
  ['graph file without hash', (m) => delete (m.files as any)['decoder.onnx'], /no entry in files/],
  ['bad sha256', (m) => ((m.files as any)['encoder.onnx'].sha256 = 'xyz'), /sha256/],
  ['bad dtype', (m) => ((m.graphs as any).decoder.inputs[0].dtype = 'float64'), /Should be one of: float32, int32, int64/],
  ['not an object', () => undefined, /JSON object/],
];
for (const [name, mutate, message] of broken) {
  test(`a manifest with ${name} is refused with a clear message`, () => {
    const m = manifest();
    mutate(m);
    assert.throws(() => parseManifest(name === 'not an object' ? [1, 2] : m), (e: Error) => e instanceof BundleError && message.test(e.message));
  });
}

test('paths that leave the bundle are refused', () => {
  for (const bad of ['../x', 'a/../../x', '/abs', 'C:/x', 'a\\b', '', 'a//b', './x']) {
    assert.throws(() => assertSafeBundlePath(bad), BundleError, bad);
  }
  assert.doesNotThrow(() => assertSafeBundlePath('variants/webgl/encoder.onnx'));
});

test('verifyFile accepts matching bytes and names the file that does not match', async () => {
  const bytes = new TextEncoder().encode('hello');
  const hash = await sha256Hex(bytes);
  assert.equal(hash, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  const m = { files: { 'encoder.onnx': { sha256: hash, bytes: 5 } } } as unknown as BundleManifest;
  await verifyFile(m, 'encoder.onnx', bytes);
  await assert.rejects(verifyFile(m, 'encoder.onnx', new TextEncoder().encode('hellO')), /"encoder.onnx" does not match manifest.json/);
  await assert.rejects(verifyFile(m, 'other.onnx', bytes), /not listed/);
});
