import { parseManifest, verifyFile } from '@vaekit/core';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { ImageBundleSource } from './kinds/image.js';
import { exportBundle, type ExportProgress } from './plans.js';
import { ExportError } from './errors.js';
import { decodeModel } from './serialize.js';
import { buildTestImageVae, initTf, runOnnxChecker, tempDir } from './test-helpers.js';

/** An image source as the CLI makes it from a run folder, and a folder `run` beside the bundle. */
async function makeSource(arch: 'dense' | 'conv'): Promise<{ source: ImageBundleSource; runDir: string }> {
  const runDir = path.join(tempDir(), 'run');
  await fs.mkdir(runDir);
  const { encoder, decoder } = buildTestImageVae({ arch, hidden: [16], latent: 3, seed: 5 });
  const training = { dataset: 'mnist', arch, epochs: 2, metrics: { elbo: 123.5 } };
  return { source: { kind: 'image', encoder, decoder, image: { height: 28, width: 28, channels: 1 }, training }, runDir };
}

before(initTf);

describe('exportBundle', () => {
  for (const arch of ['dense', 'conv'] as const) {
    test(`writes a verified ${arch} bundle`, async (t) => {
      const { source, runDir } = await makeSource(arch);
      const bundleDir = path.join(path.dirname(runDir), 'bundle');
      const events: ExportProgress[] = [];
      const result = await exportBundle(source, bundleDir, { onProgress: (e) => events.push(e) });

      assert.deepEqual((await fs.readdir(bundleDir)).sort(), ['decoder.onnx', 'encoder.onnx', 'manifest.json']);
      const manifest = parseManifest(JSON.parse(await fs.readFile(path.join(bundleDir, 'manifest.json'), 'utf8')));
      assert.equal(manifest.latentSize, 3);
      assert.deepEqual(manifest.image, { height: 28, width: 28, channels: 1, likelihood: 'bernoulli' });
      assert.equal(manifest.opset, 17);
      assert.equal(manifest.irVersion, 8);
      assert.deepEqual(manifest.graphs.encoder.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 784] }]);
      assert.deepEqual(manifest.graphs.encoder.outputs.map((o) => o.name), ['mu', 'logvar']);
      assert.deepEqual(manifest.graphs.decoder.inputs, [{ name: 'z', dtype: 'float32', shape: ['batch', 3] }]);
      assert.deepEqual(manifest.graphs.decoder.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 784] }]);
      assert.equal(manifest.training?.epochs, 2);
      assert.equal(manifest.training?.arch, arch);
      assert.deepEqual(manifest.training?.metrics, { elbo: 123.5 });
      for (const graph of ['encoder', 'decoder'] as const) {
        const errors = Object.values(manifest.parity?.[graph]?.maxAbsError ?? {});
        assert.ok(errors.length > 0 && errors.every((e) => e <= 1e-4), `${graph} parity ${errors}`);
      }
      for (const file of ['encoder.onnx', 'decoder.onnx']) {
        const bytes = await fs.readFile(path.join(bundleDir, file));
        await verifyFile(manifest, file, bytes);
        assert.equal(manifest.files[file]?.bytes, bytes.length);
        assert.equal(decodeModel(bytes).metadata['vaekit.graph'], file.replace('.onnx', ''));
      }
      assert.deepEqual(result.files.map((f) => f.path).sort(), ['decoder.onnx', 'encoder.onnx', 'manifest.json']);
      assert.deepEqual(
        [...new Set(events.map((e) => e.stage))],
        ['convert', 'parity', 'write', 'done'],
      );
      assert.deepEqual(
        (await fs.readdir(path.dirname(bundleDir))).filter((n) => n.includes('.tmp-') || n.includes('.old-')),
        [],
        'no temp folders left',
      );
      await runOnnxChecker(t, [path.join(bundleDir, 'encoder.onnx'), path.join(bundleDir, 'decoder.onnx')]);
    });
  }

  test('replaces an existing bundle only with a complete one', async () => {
    const { source, runDir } = await makeSource('dense');
    const bundleDir = path.join(path.dirname(runDir), 'bundle');
    await fs.mkdir(bundleDir);
    // An older bundle (it has a manifest.json): only bundles and empty folders are replaced.
    await fs.writeFile(path.join(bundleDir, 'manifest.json'), '{}');
    await fs.writeFile(path.join(bundleDir, 'stale.txt'), 'old');
    // A failing export (opset out of range) leaves the old bundle alone.
    await assert.rejects(exportBundle(source, bundleDir, { opset: 99 }), /from 13 to 21/);
    assert.ok(existsSync(path.join(bundleDir, 'stale.txt')));
    const result = await exportBundle(source, bundleDir, { opset: 21 });
    assert.equal(result.opset, 21);
    assert.equal(result.irVersion, 10);
    assert.ok(!existsSync(path.join(bundleDir, 'stale.txt')), 'the old folder was replaced');
    assert.deepEqual((await fs.readdir(path.dirname(bundleDir))).sort(), ['bundle', 'run']);
  });

  test('a write failure removes the temp folder', async () => {
    const { source, runDir } = await makeSource('dense');
    const blocker = path.join(path.dirname(runDir), 'file');
    await fs.writeFile(blocker, 'not a folder');
    await assert.rejects(exportBundle(source, path.join(blocker, 'bundle')), ExportError);
    assert.deepEqual((await fs.readdir(path.dirname(runDir))).sort(), ['file', 'run']);
  });

  test('a kind without an export plan is refused, naming the registered kinds', async () => {
    await assert.rejects(exportBundle({ kind: 'audio' }, path.join(tempDir(), 'b')), /Bundle kind "audio" has no export plan\. Should be one of: image, text, classifier, seq2seq\./);
  });
});
