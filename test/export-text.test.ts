/** `vaekit train text` -> `vaekit export` -> a text bundle the runtime's manifest parser accepts. */
import { parseManifest, type TextBundleManifest } from '@vaekit/runtime/bundle';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

let dir: string;
const small = ['--epochs', '1', '--latent', '4', '--embedding', '8', '--hidden', '16', '--max-length', '10', '--min-count', '1'];

before(async () => {
  dir = tempDir();
  const words = 'the a cat dog sat on mat ran fast slow big small red blue house tree saw heard'.split(' ');
  let s = 1;
  const rnd = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % n);
  const lines = Array.from({ length: 300 }, () => Array.from({ length: 3 + rnd(6) }, () => words[rnd(words.length)]).join(' '));
  await fs.writeFile(path.join(dir, 'corpus.txt'), lines.join('\n') + '\n');
});

test('a trained LSTM text run exports as a text bundle (fp32 and int8 with the held-out loss change)', async () => {
  const run = path.join(dir, 'run');
  vaekitOk(['train', 'text', '--data', path.join(dir, 'corpus.txt'), '--cell', 'lstm', ...small, '--out', run]);
  const out = path.join(dir, 'bundle');
  const r = vaekitOk(['export', run, out, '--json']);
  const summary = JSON.parse(r.stdout) as { parity: Record<string, { maxAbsError: Record<string, number> }> };
  assert.deepEqual(Object.keys(summary.parity), ['encoder', 'decoder_init', 'decoder_step']);
  const m = parseManifest(JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8'))) as TextBundleManifest;
  assert.equal(m.kind, 'text');
  assert.equal(m.text.cell, 'lstm');
  assert.deepEqual(m.text.stateNames, ['h', 'c']);
  assert.equal(m.text.maxLength, 10);
  assert.equal(m.training?.dataset, path.join(dir, 'corpus.txt'));
  const q = JSON.parse(vaekitOk(['export', run, path.join(dir, 'bundle-int8'), '--dtype', 'int8', '--held-out', '20', '--json']).stdout) as {
    variant: { heldOutLoss: { fp32: number; variant: number }; heldOutLossDelta: number };
  };
  assert.ok(q.variant.heldOutLoss.fp32 > 0 && Number.isFinite(q.variant.heldOutLossDelta));
  assert.ok(Math.abs(q.variant.heldOutLossDelta) < 0.05 * q.variant.heldOutLoss.fp32);
});

test('a language-model baseline run is refused with one clear line', () => {
  const run = path.join(dir, 'lm');
  vaekitOk(['train', 'text', '--data', path.join(dir, 'corpus.txt'), '--model', 'lm', ...small, '--out', run]);
  const r = vaekit(['export', run, path.join(dir, 'lm-bundle')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /language-model baseline run .*only sentence VAE runs export/);
});
