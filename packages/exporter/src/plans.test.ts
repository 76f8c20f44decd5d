import * as tf from '@tensorflow/tfjs';
import { parseManifest, registerBundleKind } from '@vaekit/core';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ExportError } from './errors.js';
import { exportBundle, exportPlanKinds, registerExportPlan, type BundleSourceBase } from './plans.js';
import { initTf, tempDir } from './test-helpers.js';

before(initTf);

describe('export plans registry', () => {
  test('a plug-in kind is exported through the same pipeline without touching shared files', async () => {
    interface ToySource extends BundleSourceBase {
      kind: 'toy';
      net: tf.LayersModel;
    }
    registerBundleKind({ kind: 'toy', graphNames: ['net'], checkSection: () => [] });
    registerExportPlan<ToySource>('toy', (s) => ({
      kind: 'toy',
      latentSize: 2,
      description: 'toy model',
      graphs: [{ key: 'net', file: 'net.onnx', model: s.net, convert: { inputNames: ['x'], outputNames: ['y'] } }],
      section: { toy: { note: 'plug-in section' } },
      files: [{ path: 'notes.txt', bytes: new TextEncoder().encode('hello\n') }],
    }));
    assert.deepEqual(exportPlanKinds(), ['image', 'text', 'classifier', 'seq2seq', 'toy']);
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], activation: 'tanh' })] });
    const dir = path.join(tempDir(), 'toy-bundle');
    const result = await exportBundle({ kind: 'toy', net } as ToySource, dir, { dtype: 'fp16' });
    assert.deepEqual((await fs.readdir(dir)).sort(), ['manifest.json', 'net.onnx', 'notes.txt']);
    const manifest = parseManifest(JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'))) as unknown as Record<string, unknown>;
    assert.equal(manifest.kind, 'toy');
    assert.deepEqual(manifest.toy, { note: 'plug-in section' });
    assert.ok(result.parity.net && result.parity.net.maxAbsError.y! <= 1e-4);
    assert.equal(result.manifest.variant?.dtype, 'fp16');
    assert.throws(() => registerExportPlan('toy', () => { throw new Error('unused'); }), (e: unknown) => e instanceof ExportError && /already registered/.test(e.message));
    net.dispose();
  });
});
