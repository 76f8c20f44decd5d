/**
 * `vaekit export-triton` validated offline (no Triton here): every config.pbtxt parsed by
 * `protoc --encode=inference.ModelConfig` against the ModelConfig schema (packages/exporter/schema),
 * names, dtypes and dims checked against the ONNX files with onnxruntime-node, the fused stateful
 * decoder equal to decoder_init + decoder_step, and `vaekit serve --repository` giving the runtime's
 * outputs. Without protoc the protoc checks are skipped, except under CI, where they fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test, type TestContext } from 'node:test';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { loadVae } from '@vaekit/runtime';
import { runOnnxChecker } from '../packages/exporter/src/test-helpers.js';
import { ROOT, tempDir, trainedTextBundle, vaekit, vaekitOk } from './helpers.js';
import { postOk, startServe } from './serve-helpers.js';

const SCHEMA_DIR = path.join(ROOT, 'packages', 'exporter', 'schema');
const SCHEMA = 'triton_model_config.proto';
let bundleDir: string;
let repo: string;
let models: string[];

before(() => {
  bundleDir = path.join(tempDir('vaekit-triton-'), 'toy');
  cpSync(trainedTextBundle('gru').bundleDir, bundleDir, { recursive: true });
  repo = path.join(path.dirname(bundleDir), 'repo');
  vaekitOk(['export-triton', bundleDir, repo, '--max-batch', '32']);
  models = readdirSync(repo, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
});

function protoc(t: TestContext): boolean {
  const r = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = 'protoc is not installed (Debian: apt-get install protobuf-compiler)';
    if (process.env.CI) assert.fail(why);
    t.skip(why);
    return false;
  }
  return true;
}

/** config.pbtxt -> protoc (text format, schema-checked) -> binary -> protobufjs -> plain object. */
function parseConfig(text: string): { ok: boolean; stderr: string; config?: any } {
  const r = spawnSync('protoc', [`--proto_path=${SCHEMA_DIR}`, '--encode=inference.ModelConfig', SCHEMA], { input: text });
  if (r.status !== 0) return { ok: false, stderr: r.stderr.toString() };
  const type = protobuf.parse(readFileSync(path.join(SCHEMA_DIR, SCHEMA), 'utf8'), { keepCase: true }).root.lookupType('inference.ModelConfig');
  const config = type.toObject(type.decode(r.stdout), { enums: String, longs: Number, arrays: true, defaults: false, oneofs: true });
  return { ok: true, stderr: '', config };
}

test('the repository has one model per graph plus the stateful decoder, and a KServe InferenceService', () => {
  assert.deepEqual(models, ['toy_decoder_init', 'toy_decoder_stateful', 'toy_decoder_step', 'toy_encoder']);
  for (const m of models) {
    assert.deepEqual(readdirSync(path.join(repo, m, '1')), ['model.onnx']);
    assert.ok(readdirSync(path.join(repo, m)).includes('config.pbtxt'));
  }
  const yaml = readFileSync(path.join(repo, 'inferenceservice.yaml'), 'utf8');
  for (const line of ['kind: InferenceService', 'name: onnx', 'protocolVersion: v2', 'storageUri:']) assert.ok(yaml.includes(line), line);
});

test('every config.pbtxt parses against the ModelConfig schema; the schema rejects unknown fields and bad enum values', (t) => {
  if (!protoc(t)) return;
  for (const m of models) {
    const text = readFileSync(path.join(repo, m, 'config.pbtxt'), 'utf8');
    const parsed = parseConfig(text);
    assert.ok(parsed.ok, `${m}/config.pbtxt: ${parsed.stderr}`);
    assert.equal(parsed.config.name, m);
    assert.equal(parsed.config.platform, 'onnxruntime_onnx');
    assert.equal(parsed.config.max_batch_size, 32);
    assert.equal(parsed.config.instance_group[0].kind, 'KIND_CPU');
    assert.ok(parsed.config[m.endsWith('stateful') ? 'sequence_batching' : 'dynamic_batching'], m);
  }
  const good = readFileSync(path.join(repo, 'toy_encoder', 'config.pbtxt'), 'utf8');
  assert.equal(parseConfig(good.replace('KIND_CPU', 'KIND_TPU')).ok, false, 'bad enum value');
  assert.equal(parseConfig(good.replace('max_batch_size', 'max_batch')).ok, false, 'unknown field');
  assert.equal(parseConfig(good.replace('TYPE_FP32', 'TYPE_FLOAT32')).ok, false, 'bad data type');
});

test('names, dtypes and dims of every config agree with its ONNX file (onnxruntime-node)', async (t) => {
  if (!protoc(t)) return;
  for (const m of models) {
    const { config } = parseConfig(readFileSync(path.join(repo, m, 'config.pbtxt'), 'utf8'));
    const session = await ort.InferenceSession.create(path.join(repo, m, '1', 'model.onnx'));
    const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
      new Map(list.map((v) => [v.name, v as ort.InferenceSession.ValueMetadata & { type: string; shape: Array<number | string> }]));
    const ins = meta(session.inputMetadata);
    const outs = meta(session.outputMetadata);
    const dtype = (tt: string) => ({ TYPE_FP32: 'float32', TYPE_INT32: 'int32', TYPE_INT64: 'int64' })[tt];
    const check = (where: Map<string, { type: string; shape: Array<number | string> }>, t: { name: string; data_type: string; dims: number[]; reshape?: { shape?: number[] } }) => {
      const v = where.get(t.name);
      assert.ok(v, `${m}: "${t.name}" is not in the ONNX file (${[...where.keys()].join(', ')})`);
      assert.equal(v.type, dtype(t.data_type), `${m}: dtype of ${t.name}`);
      const dims = t.reshape ? (t.reshape.shape ?? []) : t.dims;
      assert.equal(v.shape.length, dims.length + 1, `${m}: rank of ${t.name} (ONNX ${JSON.stringify(v.shape)}, config ${JSON.stringify(t)})`);
      dims.forEach((d, i) => {
        const onnx = v.shape[i + 1];
        assert.ok(d === -1 ? typeof onnx === 'string' : onnx === d, `${m}: dim ${i + 1} of ${t.name}: ONNX ${onnx}, config ${d}`);
      });
      assert.equal(typeof v.shape[0], 'string', `${m}: the batch dimension of ${t.name} is dynamic`);
      where.delete(t.name);
    };
    for (const i of config.input) check(ins, i);
    for (const o of config.output) check(outs, o);
    const seq = config.sequence_batching;
    if (seq) {
      for (const c of seq.control_input) {
        const v = ins.get(c.name);
        assert.ok(v && v.type === 'int32' && v.shape.length === 2 && v.shape[1] === 1, `${m}: control ${c.name} is int32 [batch, 1]`);
        ins.delete(c.name);
      }
      for (const s of seq.state) {
        check(ins, { name: s.input_name, data_type: s.data_type, dims: s.dims });
        check(outs, { name: s.output_name, data_type: s.data_type, dims: s.dims });
      }
    }
    assert.deepEqual([...ins.keys()], [], `${m}: ONNX inputs the config does not declare`);
    assert.deepEqual([...outs.keys()], [], `${m}: ONNX outputs the config does not declare`);
    await session.release();
  }
});

test('the fused stateful decoder equals decoder_init + decoder_step, row by row', async (t) => {
  const open = (m: string) => ort.InferenceSession.create(path.join(repo, m, '1', 'model.onnx'));
  const [fused, init, step] = await Promise.all([open('toy_decoder_stateful'), open('toy_decoder_init'), open('toy_decoder_step')]);
  const L = 4;
  const H = 24;
  const z = Float32Array.from({ length: 3 * L }, (_, i) => Math.sin(i + 1));
  const carried = Float32Array.from({ length: 3 * H }, (_, i) => Math.cos(i) * 0.5);
  const token = Int32Array.from([2, 5, 7]);
  const out = await fused.run({
    START: new ort.Tensor('int32', Int32Array.from([1, 0, 1]), [3, 1]),
    token: new ort.Tensor('int32', token, [3]),
    h: new ort.Tensor('float32', carried, [3, H]),
    z: new ort.Tensor('float32', z, [3, L]),
  });
  const h0 = (await init.run({ z: new ort.Tensor('float32', z, [3, L]) })).h!.data as Float32Array;
  // Rows 0 and 2 start a sequence (state from z), row 1 continues (the carried state).
  const h = Float32Array.from({ length: 3 * H }, (_, i) => (Math.floor(i / H) === 1 ? carried[i]! : h0[i]!));
  const ref = await step.run({ token: new ort.Tensor('int32', token, [3]), h: new ort.Tensor('float32', h, [3, H]), z: new ort.Tensor('float32', z, [3, L]) });
  for (const name of ['logits', 'h_out']) {
    const a = out[name]!.data as Float32Array;
    const b = ref[name]!.data as Float32Array;
    assert.equal(a.length, b.length);
    const err = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    assert.ok(err < 1e-6, `${name} differs by ${err}`);
  }
  await Promise.all([fused.release(), init.release(), step.release()]);
  await runOnnxChecker(t, [path.join(repo, 'toy_decoder_stateful', '1', 'model.onnx')]);
});

test('the documented Triton client loop on the fused graph (START on the first step, state carried) gives the runtime greedy sentence', async () => {
  const fused = await ort.InferenceSession.create(path.join(repo, 'toy_decoder_stateful', '1', 'model.onnx'));
  const vae = await loadVae(bundleDir, { kind: 'text' });
  const [want] = await vae.generate({ n: 1, seed: 3, maxTokens: 12 });
  const { bos, eos } = vae.manifest.text.specialTokens;
  const z = want!.z;
  let h = new Float32Array(24); // Triton's zero initial state
  const got: number[] = [];
  let token = bos;
  for (let t = 0; t < 12; t++) {
    const out = await fused.run({
      START: new ort.Tensor('int32', Int32Array.from([t === 0 ? 1 : 0]), [1, 1]),
      token: new ort.Tensor('int32', Int32Array.from([token]), [1]),
      h: new ort.Tensor('float32', h, [1, 24]),
      z: new ort.Tensor('float32', z, [1, 4]),
    });
    const logits = out.logits!.data as Float32Array;
    token = logits.indexOf(Math.max(...logits));
    h = out.h_out!.data as Float32Array;
    got.push(token);
    if (token === eos) break;
  }
  assert.deepEqual(got, want!.tokenIds);
  await vae.dispose();
  await fused.release();
});

test('vaekit serve --repository on the generated folder gives the runtime outputs; a tampered model file is refused', async () => {
  const vae = await loadVae(bundleDir, { kind: 'text' });
  const s = await startServe(['--repository', repo, '--workers', '1']);
  try {
    const sentences = ['the cat sat on the mat today .', 'our team likes the rain'];
    const enc = await postOk(`${s.url}/v1/models/toy:encode`, { sentences });
    const ref = await vae.encode(sentences);
    const err = Math.max(...enc.mu.flatMap((r: number[], i: number) => r.map((v, j) => Math.abs(v - ref.mu[i]![j]!))));
    assert.ok(err < 1e-5, `encode differs by ${err}`);
    const opts = { n: 4, seed: 11, strategy: 'sample' as const, maxTokens: 10 };
    const gen = await postOk(`${s.url}/v1/models/toy:generate`, opts);
    assert.deepEqual(gen.generations.map((g: { tokenIds: number[] }) => g.tokenIds), (await vae.generate(opts)).map((g) => g.tokenIds));
    const infer = await postOk(`${s.url}/v2/models/toy_decoder_init/infer`, { inputs: [{ name: 'z', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }] });
    assert.deepEqual(infer.outputs[0].shape, [1, 24]);

    // The Triton client loop of docs/serving.md against the stateful model, two sequences interleaved.
    const meta = await (await fetch(`${s.url}/v2/models/toy_decoder_stateful`)).json();
    assert.deepEqual(meta.inputs.map((t: { name: string }) => t.name), ['token', 'z']);
    assert.deepEqual(meta.outputs.map((t: { name: string }) => t.name), ['logits', 'best_id', 'best_logit', 'top_ids', 'top_logits', 'log_z', 'best_logprob']); // logits and the decoding heads; the states stay on the server
    const want = await vae.generate({ n: 2, seed: 5, maxTokens: 12 });
    const { bos, eos } = vae.manifest.text.specialTokens;
    const tokens: number[][] = [[], []];
    const last = [bos, bos];
    for (let t = 0; t < 12; t++) {
      for (const i of [0, 1]) {
        if (tokens[i]!.at(-1) === eos) continue;
        const res = await postOk(`${s.url}/v2/models/toy_decoder_stateful/infer`, {
          parameters: { sequence_id: 1000 + i, sequence_start: t === 0, sequence_end: t === 11 },
          inputs: [
            { name: 'token', datatype: 'INT32', shape: [1, 1], data: [last[i]] },
            { name: 'z', datatype: 'FP32', shape: [1, 4], data: Array.from(want[i]!.z) },
          ],
          outputs: [{ name: 'logits' }],
        });
        const logits: number[] = res.outputs[0].data;
        last[i] = logits.indexOf(Math.max(...logits));
        tokens[i]!.push(last[i]!);
      }
    }
    assert.deepEqual(tokens, want.map((g) => g.tokenIds));
    const noStart = await fetch(`${s.url}/v2/models/toy_decoder_stateful/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: { sequence_id: 77 }, inputs: [{ name: 'token', datatype: 'INT32', shape: [1, 1], data: [bos] }, { name: 'z', datatype: 'FP32', shape: [1, 4], data: [0, 0, 0, 0] }] }),
    });
    assert.equal(noStart.status, 400);
    assert.match((await noStart.json()).error, /sequence_start/);
  } finally {
    assert.equal(await s.stop(), 0);
    await vae.dispose();
  }
  const bad = path.join(path.dirname(repo), 'repo-bad');
  cpSync(repo, bad, { recursive: true });
  const file = path.join(bad, 'toy_encoder', '1', 'model.onnx');
  const bytes = readFileSync(file);
  bytes[bytes.length - 3] ^= 0x55;
  writeFileSync(file, bytes);
  const r = vaekit(['serve', '--repository', bad, '--port', '0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /toy_encoder\/1\/model\.onnx/);
});
