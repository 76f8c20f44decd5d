/**
 * First contact (issue 12): what a new user meets in the first minutes. `npx vaekit` right after
 * `npm ci`; a start that loads no engine; export-model of models that begin with an Embedding; bundles
 * that carry no local path; your own images; and the text commands' streaming, warnings, cut marks and
 * JSON keys.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { folderIO } from '@vaekit/core/tfjs';
import { ROOT, makeImageFolder, tempDir, trainedTextBundle, vaekit, vaekitOk } from './helpers.js';

const BIN = path.join(ROOT, 'node_modules', '.bin', 'vaekit');

describe('the vaekit command after npm ci', () => {
  test('node_modules/.bin/vaekit exists, points at the committed shim, and runs --version', () => {
    assert.ok(existsSync(BIN), 'npm linked node_modules/.bin/vaekit at install time');
    assert.equal(realpathSync(BIN), path.join(ROOT, 'packages', 'cli', 'bin', 'vaekit.js'), 'the bin is the committed shim, not a file of dist/');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
    assert.equal(pkg.bin.vaekit, 'bin/vaekit.js');
    const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  for (const args of [['--version'], ['--help'], ['generate', '--help'], ['train', 'image', '--help']]) {
    test(`vaekit ${args.join(' ')} loads neither tfjs nor onnxruntime`, async () => {
      const log = path.join(tempDir(), 'imports.log');
      const r = spawnSync(process.execPath, ['--import', path.join(ROOT, 'test', 'fixtures', 'record-imports.mjs'), BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, VAEKIT_IMPORT_LOG: log },
      });
      assert.equal(r.status, 0, r.stderr);
      const loaded = (await fs.readFile(log, 'utf8')).split('\n').filter(Boolean);
      assert.ok(loaded.some((l) => l.includes('packages/cli/dist/main.js')), 'the hook saw the CLI load');
      const engines = loaded.filter((l) => /@tensorflow\/tfjs|onnxruntime|protobufjs/.test(l));
      assert.deepEqual(engines, [], `loaded at start-up:\n${engines.join('\n')}`);
    });
  }

  test('no command file imports another command file', () => {
    const dir = path.join(ROOT, 'packages', 'cli', 'src', 'commands');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const src = readFileSync(path.join(dir, file), 'utf8');
      const imports = [...src.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1]!);
      const commands = imports.filter((s) => s.startsWith('./') || s.includes('/commands/'));
      assert.deepEqual(commands, [], `${file} imports ${commands.join(', ')}`);
    }
  });
});

describe('export-model of models that begin with an Embedding', () => {
  let dir: string;
  before(async () => {
    await tf.setBackend('cpu');
    dir = tempDir();
    for (const cell of ['gru', 'lstm'] as const) {
      for (const dtype of ['float32', 'int32'] as const) {
        // float32 is tfjs' default input dtype: ids reach the Embedding as floats.
        const x = tf.input({ shape: [7], dtype, name: 'ids' });
        let h = tf.layers.embedding({ inputDim: 50, outputDim: 8 }).apply(x) as tf.SymbolicTensor;
        h = (cell === 'gru' ? tf.layers.gru({ units: 6 }) : tf.layers.lstm({ units: 6 })).apply(h) as tf.SymbolicTensor;
        const y = tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor;
        const model = tf.model({ inputs: x, outputs: y });
        await model.save(folderIO(path.join(dir, `${cell}-${dtype}`), 'model.json'));
        model.dispose();
      }
    }
  });

  for (const cell of ['gru', 'lstm'] as const) {
    for (const dtype of ['float32', 'int32'] as const) {
      test(`Embedding -> ${cell.toUpperCase()} -> Dense (${dtype} ids): parity passes and ONNX Runtime agrees with tfjs on every id`, async () => {
        const modelJson = path.join(dir, `${cell}-${dtype}`, 'model.json');
        const out = path.join(dir, `${cell}-${dtype}.onnx`);
        const summary = JSON.parse(vaekitOk(['export-model', modelJson, out, '--json']).stdout) as { parity: { maxAbsError: Record<string, number> } };
        for (const e of Object.values(summary.parity.maxAbsError)) assert.ok(e <= 1e-4, `parity error ${e}`);
        // Every id of the table, 0 and 49 included, through both engines.
        const ids = Array.from({ length: 8 * 7 }, (_, i) => (i * 13) % 50);
        const model = await tf.loadLayersModel(folderIO(path.dirname(modelJson), 'model.json'));
        const want = (model.predict(tf.tensor(ids, [8, 7], dtype)) as tf.Tensor).dataSync();
        const session = await ort.InferenceSession.create(out);
        const feed = new ort.Tensor(dtype, dtype === 'int32' ? Int32Array.from(ids) : Float32Array.from(ids), [8, 7]);
        const got = (await session.run({ [session.inputNames[0]!]: feed }))[session.outputNames[0]!]!.data as Float32Array;
        assert.equal(got.length, want.length);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4, `output ${i}: ${got[i]} vs ${want[i]}`);
        await session.release();
        model.dispose();
      });
    }
  }
});

describe('train image --data: your own images', () => {
  let dir: string;
  let images: string;
  before(async () => {
    dir = tempDir();
    images = await makeImageFolder(path.join(dir, 'my-images'));
  });

  test('an RGB folder with class subfolders trains (conv, 8x8x3), exports without local paths, samples and reconstructs', async () => {
    const run = path.join(dir, 'run');
    const bundle = path.join(dir, 'bundle');
    const r = vaekitOk(['train', 'image', '--data', images, '--size', '8', '--channels', '3', '--arch', 'conv', '--epochs', '2', '--batch-size', '8', '--latent', '4', '--out', run, '--json']);
    assert.match(r.stderr, /data: 22 training and 2 held-out images of my-images \(8x8x3\)/);
    const trained = JSON.parse(r.stdout) as { epochs: Array<{ test: { elbo: number } }> };
    assert.equal(trained.epochs.length, 2);
    assert.ok(Number.isFinite(trained.epochs[1]!.test.elbo));
    vaekitOk(['export', run, bundle]);
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8')) as {
      image: { height: number; width: number; channels: number };
      training: { dataset: string };
      graphs: { encoder: { inputs: Array<{ shape: Array<number | string> }> } };
    };
    assert.deepEqual([manifest.image.height, manifest.image.width, manifest.image.channels], [8, 8, 3]);
    assert.deepEqual(manifest.graphs.encoder.inputs[0]!.shape, ['batch', 192]);
    assert.equal(manifest.training.dataset, 'my-images', 'the folder name, not its path');
    for (const f of ['manifest.json', 'encoder.onnx', 'decoder.onnx']) {
      assert.ok(!(await fs.readFile(path.join(bundle, f), 'latin1')).includes(dir), `${f} holds no local path`);
    }
    const samples = path.join(dir, 'samples.png');
    const s = JSON.parse(vaekitOk(['sample', bundle, '--n', '4', '--out', samples, '--json']).stdout) as { z: number[][]; device: string };
    assert.equal(s.z.length, 4);
    assert.equal(s.device, 'cpu');
    const png = PNG.sync.read(await fs.readFile(samples));
    assert.equal(png.width, 2 * (8 * 2 + 2) + 2, '2 columns of 2x upscaled 8x8 images');
    // An RGB grid: some pixel has different red and blue.
    let colour = false;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] !== png.data[i + 2]) colour = true;
    assert.ok(colour, 'the grid is in colour');

    const noData = vaekit(['reconstruct', bundle, '--n', '2', '--out', path.join(dir, 'rec.png')]);
    assert.equal(noData.code, 2);
    assert.match(noData.stderr, /trained on the image folder "my-images": give that folder with --data DIR/);
    const rec = JSON.parse(vaekitOk(['reconstruct', bundle, '--data', images, '--n', '2', '--out', path.join(dir, 'rec.png'), '--json']).stdout) as { n: number; meanSquaredError: number };
    assert.equal(rec.n, 2);
    const textOption = vaekitOk(['reconstruct', bundle, '--data', images, '--n', '2', '--out', path.join(dir, 'rec.png'), '--strategy', 'beam']);
    assert.match(textOption.stderr, /warning: --strategy applies to text bundles only; ignored for this image bundle/);
    assert.ok(rec.meanSquaredError > 0 && rec.meanSquaredError < 0.5, `MSE ${rec.meanSquaredError}`);
  });

  test('a grey dense run at another size; the MNIST default is unchanged', async () => {
    const run = path.join(dir, 'grey');
    const r = vaekitOk(['train', 'image', '--data', images, '--size', '10', '--epochs', '1', '--batch-size', '8', '--hidden', '16', '--latent', '2', '--out', run]);
    assert.match(r.stderr, /\(10x10x1\)/);
    const config = JSON.parse(await fs.readFile(path.join(run, 'config.json'), 'utf8')) as { dataset: string; image: object };
    assert.deepEqual(config.image, { height: 10, width: 10, channels: 1 });
    assert.equal(config.dataset, images);
    const help = vaekitOk(['train', 'image', '--help']).stdout;
    assert.match(help, /--data <source>.*\(default:\s+"mnist"\)/s);
  });
});

describe('text commands on a bundle', () => {
  let bundle: string;
  let run: string;
  before(() => {
    ({ bundleDir: bundle, runDir: run } = trainedTextBundle('gru'));
  });

  test('generate --stream prints the same sentences as generate, token by token', () => {
    for (const extra of [[], ['--strategy', 'sample', '--seed', '5']]) {
      const plain = vaekitOk(['generate', bundle, '--n', '3', '--max-tokens', '6', ...extra]).stdout;
      const streamed = vaekitOk(['generate', bundle, '--n', '3', '--max-tokens', '6', '--stream', ...extra]).stdout;
      assert.equal(streamed, plain);
    }
    const lines = vaekitOk(['generate', bundle, '--n', '2', '--max-tokens', '4', '--stream', '--json']).stdout.trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { index: number; token: string; done: boolean });
    assert.deepEqual([...new Set(events.map((e) => e.index))].sort(), [0, 1]);
    assert.equal(events.filter((e) => e.done).length, 2, 'one last token per sentence');
  });

  test('sentences cut by --max-tokens are marked; sampling options without --strategy sample warn', () => {
    const cut = vaekitOk(['generate', bundle, '--n', '2', '--max-tokens', '1']);
    for (const line of cut.stdout.trim().split('\n')) assert.ok(line.endsWith(' …'), `cut sentence marked: ${JSON.stringify(line)}`);
    const json = JSON.parse(vaekitOk(['generate', bundle, '--n', '2', '--max-tokens', '1', '--json']).stdout) as { generations: Array<{ finished: boolean; text: string }> };
    assert.ok(json.generations.every((g) => !g.finished && !g.text.endsWith('…')), 'JSON keeps the text and says finished: false');

    const ignored = vaekitOk(['generate', bundle, '--n', '1', '--temperature', '0.5', '--top-k', '3']);
    const warnings = ignored.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 1, ignored.stderr);
    assert.match(warnings[0]!, /--temperature, --top-k do nothing with --strategy greedy \(--strategy sample only\); ignored/);
    const sampled = vaekitOk(['generate', bundle, '--n', '1', '--temperature', '0.5', '--strategy', 'sample']);
    assert.doesNotMatch(sampled.stderr, /warning/);
  });

  test('empty and all-unknown input warn; JSON keys are the same across commands', () => {
    const empty = vaekitOk(['encode', bundle, '']);
    assert.match(empty.stderr, /warning: the input is empty/);
    const unknown = vaekitOk(['reconstruct', bundle, 'zzyzx qwxz', '--max-tokens', '4']);
    assert.match(unknown.stderr, /warning: none of the words of the input \("zzyzx qwxz"\) is in the bundle's vocabulary: it is encoded as 2 <unk>/);
    const known = vaekitOk(['encode', bundle, 'the cat sat']);
    assert.doesNotMatch(known.stderr, /warning/);
    const imageOption = vaekitOk(['reconstruct', bundle, 'the cat sat', '--n', '3', '--max-tokens', '4']);
    assert.match(imageOption.stderr, /warning: --n applies to image bundles only; ignored for this text bundle/);

    const enc = JSON.parse(vaekitOk(['encode', bundle, 'the cat sat', '--json']).stdout) as Record<string, unknown>;
    const rec = JSON.parse(vaekitOk(['reconstruct', bundle, 'the cat sat', '--json', '--max-tokens', '6']).stdout) as Record<string, unknown>;
    const interp = JSON.parse(vaekitOk(['interpolate', bundle, 'the cat sat', 'a dog ran', '--steps', '3', '--max-tokens', '6', '--json']).stdout) as Record<string, unknown>;
    const gen = JSON.parse(vaekitOk(['generate', bundle, '--n', '1', '--max-tokens', '6', '--json']).stdout) as Record<string, unknown>;
    assert.equal(enc.input, 'the cat sat');
    assert.equal(rec.input, 'the cat sat');
    assert.deepEqual(interp.inputs, ['the cat sat', 'a dog ran']);
    for (const [name, out] of Object.entries({ enc, rec, interp, gen })) {
      assert.equal(out.device, 'cpu', `${name}.device`);
      for (const old of ['sentence', 'a', 'b', 'backend']) assert.ok(!(old in out), `${name} has no "${old}" key`);
    }
    for (const [name, out] of Object.entries({ rec, interp, gen })) {
      assert.deepEqual([out.strategy, out.seed, out.maxTokens], ['greedy', 0, 6], `${name}: strategy, seed, maxTokens`);
      assert.ok(Array.isArray(out.generations), `${name}.generations`);
    }
  });

  test('--device picks the engine; the old --backend still works with a one-line notice', () => {
    const wasm = JSON.parse(vaekitOk(['generate', bundle, '--n', '2', '--max-tokens', '5', '--device', 'wasm', '--json']).stdout) as { device: string; generations: Array<{ tokenIds: number[] }> };
    assert.equal(wasm.device, 'wasm');
    const old = vaekitOk(['generate', bundle, '--n', '2', '--max-tokens', '5', '--backend', 'wasm', '--json']);
    const notices = old.stderr.trim().split('\n');
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /--backend is deprecated on generate; use --device wasm/);
    assert.deepEqual(JSON.parse(old.stdout), wasm);
    assert.match(vaekitOk(['generate', '--help']).stdout, /--device <name>/);
    assert.doesNotMatch(vaekitOk(['generate', '--help']).stdout, /--backend/);
  });

  test('eval and training: the backend line is short, and comes only after the input was checked', () => {
    const bad = vaekit(['train', 'text', '--data', path.join(tempDir(), 'none.txt'), '--out', path.join(tempDir(), 'r')]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.doesNotMatch(bad.stderr, /backend/);
    const ev = vaekitOk(['eval', run, '--k', '2', '--examples', '0', '--limit', '5']);
    assert.match(ev.stderr, /^backend: (wasm|tensorflow|cpu)/m);
    assert.doesNotMatch(ev.stderr, /Cannot find package/);
    const verbose = vaekitOk(['--verbose', 'eval', run, '--k', '2', '--examples', '0', '--limit', '5']);
    const line = verbose.stderr.split('\n').find((l) => l.startsWith('backend:'))!;
    assert.ok(line.length > 0);
    const short = ev.stderr.split('\n').find((l) => l.startsWith('backend:'))!;
    assert.ok(line.length >= short.length, 'with --verbose the backend line gives every note');
    const onBundle = vaekit(['eval', bundle]);
    assert.equal(onBundle.code, 2);
    assert.match(onBundle.stderr, /is a bundle \(made by vaekit export\); vaekit eval takes a run folder/);
  });
});
