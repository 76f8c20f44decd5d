/**
 * Training and export survive SIGKILL. A real `vaekit train image` is killed at chosen points (mid-epoch,
 * while a checkpoint is being written, between the checkpoint and its pointer, while old checkpoints are
 * pruned) by a preload (test/fixtures/kill-hook.mjs) that needs no hook in the product. `--resume` must
 * then finish the run with exactly the weights, optimizer state and metrics of a run that was never
 * interrupted (fixed seed), leaving no temporary files (VAE-GAN runs: the discriminator too; adversarial text runs: the critic). A killed export leaves no bundle that looks
 * complete, and an existing bundle survives a killed re-export.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadVae } from '@vaekit/runtime';
import { ROOT, tempDir, vaekit, vaekitOk } from './helpers.js';

const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const HOOK = path.join(ROOT, 'test', 'fixtures', 'kill-hook.mjs');

/** 3 epochs of 4 batches (256 digits, batch 64): 12 optimizer steps. */
const TRAIN = ['train', 'image', '--epochs', '3', '--limit', '256', '--batch-size', '64', '--hidden', '16', '--latent', '3', '--seed', '7'];

/** Runs the CLI with the kill hook; returns how it ended. */
function killedRun(args: string[], env: Record<string, string>): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', HOOK, CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** What must be identical between an interrupted-and-resumed run and an uninterrupted one. */
function finalState(run: string, kind: 'image' | 'text' | 'classifier' | 'translate' = 'image'): { latest: unknown; files: Record<string, string>; metrics: unknown[] } {
  const latest = JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8'));
  const ckpt = path.join(run, latest.checkpoint);
  const files: Record<string, string> = {};
  const optimizers = kind === 'text' ? ['optimizer-encoder.bin', 'optimizer-decoder.bin'] : ['optimizer.bin', 'optimizer.json'];
  // Text topologies gain a "dtype" key when tfjs re-serializes a loaded model: compare weights, not JSON layout.
  const topology = kind === 'image' ? ['encoder/model.json', 'decoder/model.json'] : [];
  // A classifier run keeps its one network in the checkpoint's decoder folder.
  const models = kind === 'classifier' ? ['decoder/weights.bin'] : ['encoder/weights.bin', 'decoder/weights.bin'];
  for (const rel of [...models, ...optimizers, ...topology]) {
    files[rel] = readFileSync(path.join(ckpt, rel)).toString('base64');
  }
  const metrics = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds: _s, ...rest } = JSON.parse(l);
      return rest;
    });
  return { latest, files, metrics };
}

/** Every entry under `dir` whose name marks a temporary file or folder. */
function temporaries(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (/\.tmp-|\.old-/.test(name)) found.push(path.relative(dir, p));
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

let reference: ReturnType<typeof finalState>;
before(() => {
  const run = path.join(tempDir(), 'run');
  vaekitOk([...TRAIN, '--out', run]);
  reference = finalState(run);
  assert.equal((reference.latest as { epoch: number }).epoch, 3);
});

/** Kill points: each is one or more killed attempts, then a `--resume` to the end. */
const SCENARIOS: Array<[name: string, kills: Array<Record<string, string>>]> = [
  ['mid-epoch (epoch 2, after batch 2)', [{ VAEKIT_KILL_AFTER_STEPS: '6' }]],
  ['at the last batch of an epoch, before its checkpoint', [{ VAEKIT_KILL_AFTER_STEPS: '8' }]],
  ['while the checkpoint writes the decoder', [{ VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/decoder/' }]],
  ['while the checkpoint writes the optimizer state', [{ VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/optimizer\\.bin' }]],
  ['after the checkpoint folder is in place, before latest.json points at it', [{ VAEKIT_KILL_ON_FS: 'rename .*\\.latest\\.json\\.tmp-', VAEKIT_KILL_ON_FS_NTH: '2' }]],
  ['after the checkpoint, before the metrics line', [{ VAEKIT_KILL_ON_FS: 'appendFile .*metrics\\.jsonl', VAEKIT_KILL_ON_FS_NTH: '2' }]],
  ['while old checkpoints are pruned', [{ VAEKIT_KILL_ON_FS: 'rm .*checkpoints/epoch-0001\\.tmp-' }]],
  ['twice: mid-epoch, then the resumed run during its checkpoint write', [{ VAEKIT_KILL_AFTER_STEPS: '5' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0003\\.tmp-' }]],
];

for (const [name, kills] of SCENARIOS) {
  test(`SIGKILL ${name}: --resume ends with the weights of an uninterrupted run`, () => {
    const run = path.join(tempDir(), 'run');
    kills.forEach((env, i) => {
      const args = i === 0 ? [...TRAIN, '--out', run] : ['train', 'image', '--resume', '--out', run];
      const r = killedRun(args, env);
      assert.equal(r.signal, 'SIGKILL', `attempt ${i + 1} was killed (status ${r.status})\n${r.stderr}`);
    });
    const latest = JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8'));
    assert.ok(latest.epoch >= 1 && latest.epoch <= 3, `a complete checkpoint is in charge: ${JSON.stringify(latest)}`);
    assert.ok(existsSync(path.join(run, latest.checkpoint, 'optimizer.bin')), 'and it is complete');
    const resumed = JSON.parse(vaekitOk(['train', 'image', '--resume', '--out', run, '--json']).stdout);
    assert.deepEqual(resumed.epochs.map((e: { epoch: number }) => e.epoch), [1, 2, 3]);
    const state = finalState(run);
    assert.deepEqual(state.latest, reference.latest);
    assert.deepEqual(state.metrics, reference.metrics, 'metrics.jsonl as in the uninterrupted run');
    for (const [file, bytes] of Object.entries(reference.files)) assert.ok(state.files[file] === bytes, `${file} is byte-identical`);
    assert.deepEqual(temporaries(run), [], 'no temporary files left');
  });
}

test('text: SIGKILL mid-epoch and during a checkpoint write; --resume ends with the weights of an uninterrupted run', () => {
  const dir = tempDir();
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  let state = 5;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 300 }, () => Array.from({ length: 3 + (next() % 6) }, () => words[next() % words.length]).join(' ')).join('\n') + '\n');
  const TEXT = ['train', 'text', '--data', corpus, '--epochs', '3', '--latent', '4', '--embedding', '8', '--hidden', '8', '--batch-size', '64', '--k', '0', '--eval-limit', '20', '--seed', '3'];
  const ref = path.join(dir, 'ref');
  vaekitOk([...TEXT, '--out', ref]);
  const expected = finalState(ref, 'text');
  // Each step applies two Adam updates (encoder, decoder); 270 training sentences = 5 batches per epoch: 14 updates = epoch 2, batch 2.
  for (const env of [{ VAEKIT_KILL_AFTER_STEPS: '14' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/optimizer-decoder\\.bin' }]) {
    const run = path.join(tempDir(), 'run');
    assert.equal(killedRun([...TEXT, '--out', run], env).signal, 'SIGKILL');
    vaekitOk(['train', 'text', '--resume', '--out', run]);
    const got = finalState(run, 'text');
    assert.deepEqual(got.latest, expected.latest);
    assert.deepEqual(got.metrics, expected.metrics);
    for (const [file, bytes] of Object.entries(expected.files)) assert.ok(got.files[file] === bytes, `${file} is byte-identical`);
    assert.deepEqual(temporaries(run), []);
  }
});

test('classifier (M2, GRU): SIGKILL mid-epoch and during a checkpoint write; --resume ends with the weights of an uninterrupted run', async () => {
  const dir = tempDir();
  const { syntheticReviews } = await import('./fixtures/reviews.mjs');
  const data = path.join(dir, 'reviews.jsonl');
  writeFileSync(data, syntheticReviews(200).map((r: object) => JSON.stringify(r)).join('\n') + '\n');
  const CLS = ['train', 'classify', '--data', data, '--model', 'm2', '--encoder', 'gru', '--labels', '20', '--valid-size', '20', '--max-length', '10', '--min-count', '1', '--latent', '3', '--embedding', '6', '--hidden', '8', '--batch-size', '32', '--epochs', '3', '--seed', '5'];
  const ref = path.join(dir, 'ref');
  vaekitOk([...CLS, '--out', ref]);
  const expected = finalState(ref, 'classifier');
  // 148 training texts (20 labelled), batch 32: 5 steps per epoch; 6 steps = epoch 2, batch 1.
  for (const env of [{ VAEKIT_KILL_AFTER_STEPS: '6' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/optimizer\\.bin' }]) {
    const run = path.join(tempDir(), 'run');
    assert.equal(killedRun([...CLS, '--out', run], env).signal, 'SIGKILL');
    vaekitOk(['train', 'classify', '--resume', '--out', run]);
    const got = finalState(run, 'classifier');
    assert.deepEqual(got.latest, expected.latest);
    assert.deepEqual(got.metrics, expected.metrics);
    for (const [file, bytes] of Object.entries(expected.files)) assert.ok(got.files[file] === bytes, `${file} is byte-identical`);
    assert.deepEqual(temporaries(run), []);
  }
});

test('text with AE pretraining and frozen word vectors, and a distillation: SIGKILL then --resume ends with the weights of an uninterrupted run', () => {
  const dir = tempDir();
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  let state = 5;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 300 }, () => Array.from({ length: 3 + (next() % 6) }, () => words[next() % words.length]).join(' ')).join('\n') + '\n');
  process.env.VAEKIT_GLOVE_PACKAGE = path.join(ROOT, 'test', 'fixtures', 'glove-tiny.json');
  const TEXT = ['train', 'text', '--data', corpus, '--epochs', '3', '--latent', '4', '--embedding', '8', '--hidden', '8', '--batch-size', '64', '--k', '0', '--eval-limit', '20', '--seed', '3'];
  const PRE = [...TEXT, '--embeddings', 'glove', '--freeze-embeddings', '--pretrain', 'ae'];
  const teacher = path.join(dir, 'teacher');
  vaekitOk([...TEXT, '--out', teacher]);
  const DISTILL = ['distill', teacher, '--hidden', '4', '--k', '0'];
  const cases: Array<{ args: string[]; resume: string[]; kills: Array<Record<string, string>> }> = [
    // 5 batches per epoch, two Adam updates per step: 14 updates = epoch 2, batch 2, so the resumed run
    // resets the decoder again from the epoch-1 checkpoint; the second kill lands in the epoch-2 checkpoint.
    { args: PRE, resume: ['train', 'text', '--resume'], kills: [{ VAEKIT_KILL_AFTER_STEPS: '14' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/optimizer-decoder\\.bin' }] },
    { args: DISTILL, resume: [...DISTILL, '--resume'], kills: [{ VAEKIT_KILL_AFTER_STEPS: '14' }] },
  ];
  for (const { args, resume, kills } of cases) {
    const ref = path.join(tempDir(), 'ref');
    vaekitOk([...args, '--out', ref]);
    const expected = finalState(ref, 'text');
    for (const env of kills) {
      const run = path.join(tempDir(), 'run');
      assert.equal(killedRun([...args, '--out', run], env).signal, 'SIGKILL', `${args[0]} ${JSON.stringify(env)}`);
      vaekitOk([...resume, '--out', run]);
      const got = finalState(run, 'text');
      assert.deepEqual(got.latest, expected.latest);
      assert.deepEqual(got.metrics, expected.metrics);
      for (const [file, bytes] of Object.entries(expected.files)) assert.ok(got.files[file] === bytes, `${args[0]} ${JSON.stringify(env)}: ${file} is byte-identical`);
      assert.deepEqual(temporaries(run), []);
    }
  }
});

test('translate: SIGKILL mid-epoch and while the optimizer state is written; --resume ends with the weights of an uninterrupted run', () => {
  const dir = tempDir();
  const data = path.join(dir, 'pairs.tsv');
  writeFileSync(data, readFileSync(path.resolve(ROOT, '../shared/data/tatoeba-fra-eng/fra-eng.tsv'), 'utf8').split('\n').slice(2000, 2400).join('\n') + '\n');
  // VNMT with variational attention: both noises must be replayed exactly. 128 pairs, batch 32: 4 steps per epoch.
  const TR = ['train', 'translate', '--data', data, '--epochs', '3', '--latent', '2', '--attention', 'variational', '--embedding', '8', '--hidden', '8', '--batch-size', '32', '--limit', '128', '--eval-limit', '8', '--min-count', '1', '--seed', '3'];
  const ref = path.join(dir, 'ref');
  vaekitOk([...TR, '--out', ref]);
  const expected = finalState(ref, 'translate');
  for (const env of [{ VAEKIT_KILL_AFTER_STEPS: '6' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/optimizer\\.bin' }]) {
    const run = path.join(tempDir(), 'run');
    assert.equal(killedRun([...TR, '--out', run], env).signal, 'SIGKILL');
    vaekitOk(['train', 'translate', '--resume', '--out', run]);
    const got = finalState(run, 'translate');
    assert.deepEqual(got.latest, expected.latest);
    assert.deepEqual(got.metrics, expected.metrics);
    for (const [file, bytes] of Object.entries(expected.files)) assert.ok(got.files[file] === bytes, `${file} is byte-identical`);
    assert.deepEqual(temporaries(run), []);
  }
});

test('VAE-GAN: SIGKILL mid-epoch and while the checkpoint writes the discriminator; --resume ends with identical weights, discriminator included', () => {
  // 2 epochs of 2 batches (128 digits, batch 64); D is updated every step (--disc-balance 0).
  const GAN = ['train', 'image', '--adversarial', 'vaegan', '--disc-balance', '0', '--epochs', '2', '--limit', '128', '--batch-size', '64', '--hidden', '16', '--latent', '3', '--seed', '5'];
  const files = ['train-discriminator/weights.bin', 'optimizer-discriminator.bin', 'optimizer-discriminator.json'];
  const ref = path.join(tempDir(), 'ref');
  vaekitOk([...GAN, '--out', ref]);
  const expected = finalState(ref);
  const ckpt = (run: string) => path.join(run, JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8')).checkpoint);
  const bytes = (run: string) => Object.fromEntries(files.map((f) => [f, readFileSync(path.join(ckpt(run), f)).toString('base64')]));
  // Each step applies two Adam updates (VAE, D): 5 updates = epoch 2, in its first batch.
  for (const env of [{ VAEKIT_KILL_AFTER_STEPS: '5' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/train-discriminator/' }]) {
    const run = path.join(tempDir(), 'run');
    assert.equal(killedRun([...GAN, '--out', run], env).signal, 'SIGKILL');
    vaekitOk(['train', 'image', '--resume', '--out', run]);
    const got = finalState(run);
    assert.deepEqual(got.latest, expected.latest);
    assert.deepEqual(got.metrics, expected.metrics);
    for (const [file, b] of Object.entries(expected.files)) assert.ok(got.files[file] === b, `${file} is byte-identical`);
    assert.deepEqual(bytes(run), bytes(ref), 'the discriminator and its optimizer are byte-identical');
    assert.deepEqual(temporaries(run), []);
  }
});

test('text --adversarial latent: SIGKILL between the VAE and critic updates and while the checkpoint writes the critic; --resume ends with identical weights, critic included', () => {
  const dir = tempDir();
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  let state = 5;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 300 }, () => Array.from({ length: 3 + (next() % 6) }, () => words[next() % words.length]).join(' ')).join('\n') + '\n');
  const ADV = ['train', 'text', '--adversarial', 'latent', '--critic-hidden', '8', '--data', corpus, '--epochs', '2', '--latent', '4', '--embedding', '8', '--hidden', '8', '--batch-size', '64', '--k', '0', '--eval-limit', '20', '--seed', '3'];
  const files = ['train-critic/weights.bin', 'optimizer-critic.bin', 'optimizer-critic.json'];
  const ref = path.join(dir, 'ref');
  vaekitOk([...ADV, '--out', ref]);
  const expected = finalState(ref, 'text');
  const ckpt = (run: string) => path.join(run, JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8')).checkpoint);
  const bytes = (run: string) => Object.fromEntries(files.map((f) => [f, readFileSync(path.join(ckpt(run), f)).toString('base64')]));
  // 5 batches per epoch, three Adam updates per step (encoder, decoder, critic): 20 updates = epoch 2,
  // batch 2, after its VAE update and before its critic update.
  for (const env of [{ VAEKIT_KILL_AFTER_STEPS: '20' }, { VAEKIT_KILL_ON_FS: 'writeFile .*epoch-0002\\.tmp-[^/]*/train-critic/' }]) {
    const run = path.join(tempDir(), 'run');
    assert.equal(killedRun([...ADV, '--out', run], env).signal, 'SIGKILL');
    vaekitOk(['train', 'text', '--resume', '--out', run]);
    const got = finalState(run, 'text');
    assert.deepEqual(got.latest, expected.latest);
    assert.deepEqual(got.metrics, expected.metrics);
    for (const [file, b] of Object.entries(expected.files)) assert.ok(got.files[file] === b, `${file} is byte-identical`);
    assert.deepEqual(bytes(run), bytes(ref), 'the critic and its optimizer are byte-identical');
    assert.deepEqual(temporaries(run), []);
  }
});

test('SIGKILL before the first checkpoint: --resume says so; a fresh run with --force starts over', () => {
  const run = path.join(tempDir(), 'run');
  assert.equal(killedRun([...TRAIN, '--out', run], { VAEKIT_KILL_AFTER_STEPS: '2' }).signal, 'SIGKILL');
  const r = vaekit(['train', 'image', '--resume', '--out', run]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /No checkpoint in .*run: latest\.json is missing \(no epoch was completed yet\)/);
  vaekitOk([...TRAIN, '--out', run, '--force']);
  assert.deepEqual(finalState(run).files, reference.files);
});

test('SIGKILL during export leaves no bundle; an existing bundle survives a killed re-export', async () => {
  const dir = tempDir();
  const run = path.join(dir, 'run');
  vaekitOk([...TRAIN, '--epochs', '1', '--out', run]);
  const bundle = path.join(dir, 'bundle');
  const killed = killedRun(['export', run, bundle], { VAEKIT_KILL_ON_FS: 'writeFile .*bundle\\.tmp-[^/]*/manifest\\.json' });
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(!existsSync(bundle), 'no bundle folder at the destination');
  assert.ok(!existsSync(path.join(readdirSync(dir).map((n) => path.join(dir, n)).find((p) => p.includes('.tmp-')) ?? dir, 'manifest.json')), 'the half-written folder has no manifest');

  vaekitOk(['export', run, bundle]);
  assert.deepEqual(readdirSync(dir).sort(), ['bundle', 'run'], 'the next export removed the stale temporary folder');
  const manifest = readFileSync(path.join(bundle, 'manifest.json'));

  // Re-export over the good bundle, killed while the new one is written and while the old one is moved aside.
  for (const env of [{ VAEKIT_KILL_ON_FS: 'writeFile .*bundle\\.tmp-[^/]*/decoder\\.onnx' }, { VAEKIT_KILL_ON_FS: 'rename .*/bundle -> .*bundle\\.tmp-' }]) {
    assert.equal(killedRun(['export', run, bundle], env).signal, 'SIGKILL');
    assert.ok(readFileSync(path.join(bundle, 'manifest.json')).equals(manifest), 'the old bundle is still in place');
    const vae = await loadVae(bundle);
    assert.equal((await vae.sample(1)).images.length, 1, 'and loads (hashes verified)');
    await vae.dispose();
  }
  vaekitOk(['export', run, bundle]);
  assert.deepEqual(readdirSync(dir).sort(), ['bundle', 'run']);
  await fs.rm(dir, { recursive: true, force: true });
});
