import { buildImageVae, defaultImageConfig, initBackend, saveCheckpoint, writeConfig } from '@vaekit/trainer';
import { ExportError, type ExportProgress } from '@vaekit/exporter';
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { exportRunBundle } from './run-source.js';

before(() => initBackend('cpu'));
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'vaekit-run-source-'));

describe('exportRunBundle (run folder -> exporter source -> bundle)', () => {
  test('exports the newest checkpoint with its training summary, reporting each stage', async () => {
    const runDir = path.join(tempDir(), 'run');
    const config = defaultImageConfig({ arch: 'dense', hidden: [16], latent: 3, epochs: 2, seed: 5 });
    const { encoder, decoder } = buildImageVae(config);
    await writeConfig(runDir, config);
    await saveCheckpoint(runDir, { encoder, decoder, state: { epoch: 2, step: 10, metrics: { elbo: 123.5 } } });
    encoder.dispose();
    decoder.dispose();
    const events: ExportProgress[] = [];
    const bundleDir = path.join(path.dirname(runDir), 'bundle');
    const result = await exportRunBundle(runDir, bundleDir, { onProgress: (e) => events.push(e) });
    assert.deepEqual((await fs.readdir(bundleDir)).sort(), ['decoder.onnx', 'encoder.onnx', 'manifest.json']);
    assert.equal(result.manifest.training?.epochs, 2);
    assert.equal(result.manifest.training?.arch, 'dense');
    assert.deepEqual(result.manifest.training?.metrics, { elbo: 123.5 });
    assert.deepEqual([...new Set(events.map((e) => e.stage))], ['load', 'convert', 'parity', 'write', 'done']);
  });

  test('a missing run folder or checkpoint is a user error naming the path', async () => {
    const missing = path.join(tempDir(), 'nope');
    await assert.rejects(
      exportRunBundle(missing, path.join(tempDir(), 'b')),
      (err: unknown) => err instanceof ExportError && err.userError && err.message.includes(missing),
    );
    const empty = tempDir();
    await assert.rejects(
      exportRunBundle(empty, path.join(tempDir(), 'b')),
      (err: unknown) => err instanceof ExportError && err.userError && err.message.includes(empty),
    );
  });
});
