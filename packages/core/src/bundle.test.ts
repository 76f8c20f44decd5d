import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BundleError, assertSafeBundlePath, buildManifest, parseManifest, registerBundleKind, sha256Hex, verifyFile, type BundleManifest } from './bundle.js';

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

const t = (name: string, dtype: string, shape: Array<number | string>) => ({ name, dtype, shape });
function textManifest(): Record<string, any> {
  const graphs = (p: string) => ({
    encoder: { file: `${p}encoder.onnx`, inputs: [t('tokens', 'int32', ['batch', 'time']), t('lengths', 'int32', ['batch'])], outputs: [t('mu', 'float32', ['batch', 4]), t('logvar', 'float32', ['batch', 4])] },
    decoder_init: { file: `${p}decoder_init.onnx`, inputs: [t('z', 'float32', ['batch', 4])], outputs: [t('h', 'float32', ['batch', 16])] },
    decoder_step: {
      file: `${p}decoder_step.onnx`,
      inputs: [t('token', 'int32', ['batch']), t('h', 'float32', ['batch', 16]), t('z', 'float32', ['batch', 4])],
      outputs: [t('logits', 'float32', ['batch', 30]), t('h_out', 'float32', ['batch', 16])],
    },
  });
  const files: Record<string, unknown> = {};
  for (const f of ['tokenizer.json', 'encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx', 'webgl/encoder.onnx', 'webgl/decoder_init.onnx', 'webgl/decoder_step.onnx']) {
    files[f] = { sha256: HASH, bytes: 1 };
  }
  const m = manifest();
  delete m.image;
  return {
    ...m,
    kind: 'text',
    text: { cell: 'gru', vocabSize: 30, embeddingSize: 8, hiddenSize: 16, maxLength: 20, stateNames: ['h'], tokenizer: 'tokenizer.json', specialTokens: { pad: 0, unk: 1, bos: 2, eos: 3 } },
    graphs: graphs(''),
    variants: { webgl: { profile: 'webgl', graphs: graphs('webgl/') } },
    files,
  };
}

test('a complete text manifest parses, with a webgl variant', () => {
  const m = parseManifest(textManifest());
  assert.equal(m.kind, 'text');
  assert.equal(m.kind === 'text' && m.text.cell, 'gru');
  assert.equal(m.variants?.webgl?.graphs.decoder_step.file, 'webgl/decoder_step.onnx');
});

const brokenText: Array<[string, (m: Record<string, any>) => void, RegExp]> = [
  ['no text section', (m) => delete m.text, /text is missing/],
  ['unknown cell', (m) => (m.text.cell = 'rnn'), /text.cell is "rnn". Should be one of: gru, lstm/],
  ['zero vocabulary', (m) => (m.text.vocabSize = 0), /text.vocabSize must be a positive integer/],
  ['tokenizer outside the bundle', (m) => (m.text.tokenizer = '../tokenizer.json'), /not allowed/],
  ['tokenizer without hash', (m) => delete m.files['tokenizer.json'], /text.tokenizer has no entry in files/],
  ['missing special ids', (m) => delete m.text.specialTokens.eos, /specialTokens must give pad, unk, bos and eos as integer ids/],
  ['special id outside the vocabulary', (m) => (m.text.specialTokens.eos = m.text.vocabSize), /specialTokens must give .* from 0 to vocabSize - 1/],
  ['negative special id', (m) => (m.text.specialTokens.pad = -1), /specialTokens must give .* from 0 to vocabSize - 1/],
  ['missing step graph', (m) => delete m.graphs.decoder_step, /graphs.decoder_step must name its file/],
  ['variant path leaving the bundle', (m) => (m.variants.webgl.graphs.encoder.file = 'webgl/../../x.onnx'), /not allowed/],
  ['variant graph without hash', (m) => delete m.files['webgl/decoder_init.onnx'], /variants.webgl.graphs.decoder_init.file "webgl\/decoder_init.onnx" has no entry in files/],
];
for (const [name, mutate, message] of brokenText) {
  test(`a text manifest with ${name} is refused with a clear message`, () => {
    const m = textManifest();
    mutate(m);
    assert.throws(() => parseManifest(m), (e: Error) => e instanceof BundleError && message.test(e.message));
  });
}

test('buildManifest adds the format marker and refuses what parseManifest refuses', () => {
  const { format: _f, formatVersion: _v, ...fields } = manifest();
  const built = buildManifest(fields as never);
  assert.equal(built.format, 'vaekit-bundle');
  assert.equal(built.formatVersion, 1);
  assert.throws(() => buildManifest({ ...(fields as object), latentSize: 0 } as never), /latentSize must be a positive integer/);
});

test('a registered plug-in kind parses; an unknown kind names the registered ones; registering twice throws', () => {
  registerBundleKind({
    kind: 'bundle-test-kind',
    graphNames: ['net'],
    checkSection: (m) => {
      if (typeof m.note !== 'string') throw new BundleError('manifest.json: note must be a string.');
      return [];
    },
  });
  const m = manifest();
  m.kind = 'bundle-test-kind';
  m.note = 'hello';
  m.graphs = { net: (m.graphs as Record<string, unknown>).encoder };
  assert.equal(parseManifest(m).kind, 'bundle-test-kind');
  assert.throws(() => parseManifest({ ...m, note: 1 }), /note must be a string/);
  assert.throws(() => parseManifest({ ...m, kind: 'nope' }), /kind "nope" is not supported. Should be one of: image, text, classifier, seq2seq, bundle-test-kind/);
  assert.throws(() => registerBundleKind({ kind: 'image', graphNames: [], checkSection: () => [] }), /already registered/);
});
