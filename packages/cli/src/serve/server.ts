/**
 * The HTTP side of `vaekit serve` (fastify): the Open Inference Protocol REST API (KServe v2, as
 * Triton speaks it) with one model per graph, task endpoints per bundle (`/v1/models/{bundle}:encode`,
 * `:generate` with server-sent events, `:reconstruct`, `:sample`, `:decode`; `:classify` and
 * `:translate` through the runtime's own facades, see facades.ts), Prometheus metrics, and
 * errors as `{"error": "..."}` with a 4xx status for bad requests.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  beamSearch,
  InputError,
  resolveDecodingOptions,
  samplePrior,
  type DecodingOptions,
  type GeneratedSequence,
  type ResolvedDecodingOptions,
  type StepFn,
  type TensorSpec,
} from '@vaekit/runtime';
import { TEXT_MODEL } from '@vaekit/core';
import { DynamicBatcher, type BatchingOptions } from './batcher.js';
import { servedFacade } from './facades.js';
import { GenerationScheduler, type DecoderInfo, type TokenEvent } from './generation.js';
import { ServeMetrics } from './metrics.js';
import type { ServedBundle, ServedModel } from './models.js';
import { InferenceError, WorkerPool } from './pool.js';
import { dtypeOfOip, elementCount, fromBytes, fromNumbers, OIP_DATATYPE, toBytes, toNumbers, type Dtype, type Tensor } from './tensors.js';
import { VERSION } from '../version.js';

/** Options of {@link startServer}. */
export interface ServeOptions extends BatchingOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Inference worker threads. */
  workers: number;
  /** Largest request body in bytes (413 above). */
  bodyLimit: number;
  /** A request must arrive completely within this many ms (408 otherwise). */
  requestTimeoutMs: number;
  /** Most sequences or rows in one task request. */
  maxItems?: number;
}

/** A running server. */
export interface RunningServer {
  url: string;
  app: FastifyInstance;
  metrics: ServeMetrics;
  /** Stops taking requests, finishes those in flight, stops the workers. */
  drain(): Promise<void>;
}

/** An error with an HTTP status, sent as `{"error": message}`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface ModelEntry {
  model: ServedModel;
  batcher: DynamicBatcher;
}

interface BundleEntry {
  bundle: ServedBundle;
  scheduler?: GenerationScheduler;
  /** The runtime facade of a classifier, seq2seq or plug-in bundle, over batched sessions. */
  facade?: unknown;
}

const oipShape = (spec: TensorSpec): number[] => spec.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1));

const DECODING_PROPS = {
  strategy: { type: 'string', enum: ['greedy', 'sample', 'beam'] },
  temperature: { type: 'number' },
  topK: { type: 'integer' },
  topP: { type: 'number' },
  beamWidth: { type: 'integer' },
  lengthPenalty: { type: 'number' },
  repetitionPenalty: { type: 'number' },
  maxTokens: { type: 'integer' },
  seed: { type: 'integer' },
} as const;

const numberRows = { type: 'array', minItems: 1, items: { type: 'array', items: { type: 'number' } } } as const;

/** The task endpoints of each kind, for messages. */
const TASKS_OF: Record<string, string> = {
  text: 'encode, generate, reconstruct, sample',
  image: 'encode, decode, reconstruct, sample',
  classifier: 'classify, encode',
  seq2seq: 'translate',
};

/** "an image", "a text": a kind with its article, for messages. */
const kindWithArticle = (kind: string): string => `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}`;

const texts = (maxItems: number) => ({ type: 'array', minItems: 1, maxItems, items: { type: 'string', maxLength: 10_000 } }) as const;

function taskSchema(maxItems: number) {
  const rows = { ...numberRows, maxItems };
  return {
    encode: { type: 'object', additionalProperties: false, properties: { sentences: { type: 'array', minItems: 1, maxItems, items: { type: 'string', maxLength: 10_000 } }, images: rows } },
    generate: {
      type: 'object',
      additionalProperties: false,
      properties: { ...DECODING_PROPS, n: { type: 'integer', minimum: 1, maximum: maxItems }, z: rows, latentSeed: { type: 'integer' }, latentTemperature: { type: 'number' }, stream: { type: 'boolean' } },
    },
    reconstruct: {
      type: 'object',
      additionalProperties: false,
      properties: { ...DECODING_PROPS, sentences: { type: 'array', minItems: 1, maxItems, items: { type: 'string', maxLength: 10_000 } }, images: rows, stream: { type: 'boolean' } },
    },
    sample: {
      type: 'object',
      additionalProperties: false,
      required: ['n'],
      properties: { ...DECODING_PROPS, n: { type: 'integer', minimum: 1, maximum: maxItems }, latentSeed: { type: 'integer' }, latentTemperature: { type: 'number' }, stream: { type: 'boolean' } },
    },
    decode: { type: 'object', additionalProperties: false, required: ['z'], properties: { z: rows } },
    classify: { type: 'object', additionalProperties: false, required: ['texts'], properties: { texts: texts(maxItems) } },
    translate: {
      type: 'object',
      additionalProperties: false,
      required: ['texts'],
      properties: { ...DECODING_PROPS, texts: texts(maxItems), n: { type: 'integer', minimum: 1, maximum: 64 }, latent: { type: 'string', enum: ['mean', 'sample'] }, attention: { type: 'boolean' } },
    },
  } as const;
}

const INFER_SCHEMA = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', maxItems: 8, items: { type: 'integer', minimum: 0 } },
          datatype: { type: 'string' },
          parameters: { type: 'object', properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
          data: { type: 'array' },
        },
      },
    },
    outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } } } },
  },
} as const;

/**
 * The binary tensor data extension (Triton, KServe v2): a request whose `Inference-Header-Content-Length`
 * header is N carries its JSON in the first N bytes of the body and the tensors' raw bytes after it.
 */
const BINARY_HEADER = 'inference-header-content-length';

/** The raw bytes after the JSON header of a binary-extension request (empty for plain JSON). */
type WithBinary = { binaryData?: Buffer };

/** Parses an infer request body: plain JSON, or the binary extension's JSON header + tensor bytes. */
function parseInferBody(req: FastifyRequest, body: Buffer): unknown {
  const header = req.headers[BINARY_HEADER];
  let jsonBytes = body.length;
  if (header !== undefined) {
    const n = Number(header);
    if (!Number.isInteger(n) || n < 0 || n > body.length) {
      throw new HttpError(400, `Header Inference-Header-Content-Length is ${JSON.stringify(header)}; expected the byte length of the JSON part, 0 to ${body.length}.`);
    }
    jsonBytes = n;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8', 0, jsonBytes));
  } catch (err) {
    throw new HttpError(400, `Invalid JSON in the request body: ${(err as Error).message}.`);
  }
  (req as FastifyRequest & WithBinary).binaryData = body.subarray(jsonBytes);
  return parsed;
}

function sendError(socket: Socket, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function rowsOf(what: string, rows: number[][], width: number): Float32Array[] {
  return rows.map((r, i) => {
    if (r.length !== width) throw new HttpError(400, `${what}[${i}] has ${r.length} numbers; expected ${width}.`);
    return Float32Array.from(r);
  });
}

function pack(rows: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

function unpack(data: Float32Array, rows: number): number[][] {
  const width = data.length / rows;
  return Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
}

/**
 * K of a step graph's decoding heads (TEXT_MODEL.graphs.decoderStep.heads), 0 when it lacks any of
 * them (bundles of vaekit 0.1, the fused Triton decoder).
 */
function decodingHeadsK(outputs: readonly TensorSpec[]): number {
  const names = new Set(outputs.map((t) => t.name));
  if (!Object.values(TEXT_MODEL.graphs.decoderStep.heads).every((n) => names.has(n))) return 0;
  const k = outputs.find((t) => t.name === TEXT_MODEL.graphs.decoderStep.heads.topIds)!.shape[1];
  return typeof k === 'number' && k > 0 ? k : 0;
}

/** Starts the worker pool and the HTTP server for `bundles`. */
export async function startServer(bundles: ServedBundle[], options: ServeOptions): Promise<RunningServer> {
  const maxItems = options.maxItems ?? 1024;
  const metrics = new ServeMetrics();
  const allModels = bundles.flatMap((b) => Object.values(b.models));
  const pool = await WorkerPool.start(Object.fromEntries(allModels.map((m) => [m.name, m.bytes])), options.workers);

  const models = new Map<string, ModelEntry>();
  for (const m of allModels) models.set(m.name, { model: m, batcher: new DynamicBatcher(m.name, pool, options, metrics) });
  const bundleMap = new Map<string, BundleEntry>();
  for (const b of bundles) {
    const entry: BundleEntry = { bundle: b };
    if (b.manifest.kind === 'text') {
      const step = b.models.decoder_step!;
      const info: DecoderInfo = {
        initModel: b.models.decoder_init!.name,
        stepModel: step.name,
        hiddenSize: b.manifest.text.hiddenSize,
        latentSize: b.manifest.latentSize,
        lstm: b.manifest.text.cell === 'lstm',
        tokenDtype: (step.inputs.find((t) => t.name === 'token')?.dtype ?? 'int32') as Dtype,
        bos: b.manifest.text.specialTokens.bos,
        eos: b.manifest.text.specialTokens.eos,
        headsK: decodingHeadsK(step.outputs),
        greedyHead: decodingHeadsK(step.outputs) > 0 && step.outputs.some((t) => t.name === TEXT_MODEL.graphs.decoderStep.greedyHead),
      };
      entry.scheduler = new GenerationScheduler(b.name, pool, info, options.maxBatch, metrics);
    }
    if (b.prepared !== undefined) entry.facade = servedFacade(b, (m) => models.get(m.name)!.batcher);
    bundleMap.set(b.name, entry);
  }

  let draining = false;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    serverFactory: (handler) =>
      http.createServer(
        // Node checks these timeouts every connectionsCheckingInterval ms (30 s by default): check often.
        { requestTimeout: options.requestTimeoutMs, headersTimeout: options.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, options.requestTimeoutMs / 2), keepAliveTimeout: 5000 },
        handler,
      ),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) {
        if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') sendError(socket, 408, `The request did not arrive within ${options.requestTimeoutMs} ms.`);
        else sendError(socket, 400, `Malformed HTTP request (${err.code ?? err.message}).`);
      }
      socket.destroy();
    },
  });

  app.addHook('onRequest', async (req) => {
    metrics.inflight.inc();
    (req as FastifyRequest & { startedAt?: number }).startedAt = performance.now();
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.inflight.dec();
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, code: String(reply.statusCode) });
    const started = (req as FastifyRequest & { startedAt?: number }).startedAt;
    if (started !== undefined) metrics.latency.observe({ route }, (performance.now() - started) / 1000);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
    let status = err.statusCode ?? 500;
    if (err instanceof InputError || err instanceof TypeError) status = 400;
    if (err instanceof InferenceError) status = 500;
    const message = err.validation ? `Invalid request body: ${err.message}.` : err.message;
    void reply.code(status).type('application/json').send({ error: message.split('\n')[0] });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `No route ${req.method} ${req.url}. See GET /v2 and /v2/models/{model}.` });
  });

  const modelOf = (name: string): ModelEntry => {
    const m = models.get(name);
    if (!m) throw new HttpError(404, `Unknown model "${name}". Served models: ${[...models.keys()].join(', ')}.`);
    return m;
  };
  const bundleOf = (name: string): BundleEntry => {
    const b = bundleMap.get(name);
    if (!b) throw new HttpError(404, `Unknown bundle "${name}". Served bundles: ${[...bundleMap.keys()].join(', ')}.`);
    return b;
  };

  // ---- Open Inference Protocol ----
  app.get('/v2', async () => ({ name: 'vaekit', version: VERSION, extensions: ['binary_tensor_data'] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => (draining ? reply.code(503).send({ ready: false }) : { ready: true }));
  const metadata = async (req: FastifyRequest<{ Params: { model: string } }>) => {
    const { model } = modelOf(req.params.model);
    return {
      name: model.name,
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: model.inputs.map((t) => ({ name: t.name, datatype: OIP_DATATYPE[t.dtype as Dtype], shape: oipShape(t) })),
      outputs: model.outputs.map((t) => ({ name: t.name, datatype: OIP_DATATYPE[t.dtype as Dtype], shape: oipShape(t) })),
    };
  };
  const ready = async (req: FastifyRequest<{ Params: { model: string } }>, reply: FastifyReply) => {
    const { model } = modelOf(req.params.model);
    return draining ? reply.code(503).send({ name: model.name, ready: false }) : { name: model.name, ready: true };
  };
  app.get('/v2/models/:model', metadata);
  app.get('/v2/models/:model/versions/:version', metadata);
  app.get('/v2/models/:model/ready', ready);
  app.get('/v2/models/:model/versions/:version/ready', ready);

  // Implicit state of stateful models, per sequence id (Triton's sequence batcher semantics: the
  // request with sequence_start begins a sequence, sequence_end frees it, idle ones expire).
  const SEQUENCE_IDLE_MS = 60_000;
  const sequences = new Map<string, { states: Record<string, Float32Array>; busy: boolean; timer: NodeJS.Timeout }>();
  const dropSequence = (key: string) => {
    const s = sequences.get(key);
    if (s) clearTimeout(s.timer);
    sequences.delete(key);
  };

  type InferBody = {
    id?: string;
    parameters?: { sequence_id?: unknown; sequence_start?: unknown; sequence_end?: unknown; binary_data_output?: unknown };
    inputs: Array<{ name: string; shape: number[]; datatype: string; data?: unknown[]; parameters?: { binary_data_size?: number } }>;
    outputs?: Array<{ name: string; parameters?: { binary_data?: boolean } }>;
  };
  const infer = async (req: FastifyRequest<{ Params: { model: string; version?: string }; Body: InferBody }>, reply: FastifyReply) => {
    const { model, batcher } = modelOf(req.params.model);
    if (req.params.version !== undefined && req.params.version !== '1') throw new HttpError(404, `Model "${model.name}" has no version "${req.params.version}". Served versions: 1.`);
    const body = req.body;
    const binary = (req as FastifyRequest & WithBinary).binaryData ?? Buffer.alloc(0);
    let binaryOffset = 0;
    const feeds: Record<string, Tensor> = {};
    let batch: number | undefined;
    for (const input of body.inputs) {
      const spec = model.inputs.find((t) => t.name === input.name);
      if (!spec) throw new HttpError(400, `Model "${model.name}" has no input "${input.name}". Inputs: ${model.inputs.map((t) => t.name).join(', ')}.`);
      if (feeds[input.name]) throw new HttpError(400, `Input "${input.name}" is given twice.`);
      const want = OIP_DATATYPE[spec.dtype as Dtype];
      if (dtypeOfOip(input.datatype) !== spec.dtype) throw new HttpError(400, `Input "${input.name}" has datatype "${input.datatype}"; model "${model.name}" expects "${want}".`);
      const expected = oipShape(spec);
      // A [batch] tensor is [batch, 1] in the Triton configs export-triton writes (dims [1], reshape
      // []): accept both so one client works against Triton and this server.
      if (expected.length === 1 && input.shape.length === 2 && input.shape[1] === 1) input.shape = [input.shape[0]!];
      const bad = input.shape.length !== expected.length || input.shape.some((d, i) => expected[i]! >= 0 && d !== expected[i]);
      if (bad) throw new HttpError(400, `Input "${input.name}" has shape [${input.shape.join(', ')}]; model "${model.name}" expects [${expected.join(', ')}] (-1 = any size).`);
      if (input.shape[0] === 0) throw new HttpError(400, `Input "${input.name}" has an empty batch (shape [${input.shape.join(', ')}]).`);
      if (batch === undefined) batch = input.shape[0];
      else if (input.shape[0] !== batch) throw new HttpError(400, `Input "${input.name}" has batch size ${input.shape[0]}, other inputs ${batch}: the first dimension must agree.`);
      const count = elementCount(input.shape);
      const binarySize = input.parameters?.binary_data_size;
      let data;
      if (binarySize !== undefined) {
        if (binaryOffset + binarySize > binary.length) {
          throw new HttpError(400, `Input "${input.name}" has binary_data_size ${binarySize}, but only ${binary.length - binaryOffset} bytes of binary data remain after the JSON header.`);
        }
        data = fromBytes(spec.dtype as Dtype, binary.subarray(binaryOffset, binaryOffset + binarySize), `Input "${input.name}"`);
        binaryOffset += binarySize;
        if (data.length !== count) throw new HttpError(400, `Input "${input.name}" has ${data.length} values in its binary data; shape [${input.shape.join(', ')}] needs ${count}.`);
      } else {
        if (input.data === undefined) throw new HttpError(400, `Input "${input.name}" has neither "data" nor parameters.binary_data_size.`);
        const flat = input.data.flat(Infinity);
        if (flat.length !== count) throw new HttpError(400, `Input "${input.name}" has ${flat.length} values; shape [${input.shape.join(', ')}] needs ${count}.`);
        data = fromNumbers(spec.dtype as Dtype, flat, `Input "${input.name}"`);
      }
      feeds[input.name] = { dtype: spec.dtype as Dtype, dims: input.shape, data };
    }
    if (binaryOffset !== binary.length) {
      throw new HttpError(400, `${binary.length - binaryOffset} bytes of binary data after the JSON header belong to no input: each binary input needs parameters.binary_data_size.`);
    }
    const missing = model.inputs.filter((t) => !feeds[t.name]);
    if (missing.length) throw new HttpError(400, `Model "${model.name}" needs input(s) ${missing.map((t) => `"${t.name}"`).join(', ')}.`);
    // binary_data_output asks for every output as binary data; an output's own binary_data overrides it.
    const allBinary = body.parameters?.binary_data_output === true;
    const wanted = body.outputs?.map((o) => ({ name: o.name, binary: o.parameters?.binary_data ?? allBinary })) ?? model.outputs.map((t) => ({ name: t.name, binary: allBinary }));
    for (const w of wanted) {
      if (!model.outputs.some((t) => t.name === w.name)) throw new HttpError(400, `Model "${model.name}" has no output "${w.name}". Outputs: ${model.outputs.map((t) => t.name).join(', ')}.`);
    }
    let out: Record<string, Tensor>;
    if (model.stateful) out = await runStateful(model, batcher, feeds, body, batch!);
    else out = await batcher.submit(feeds);
    const chunks: Uint8Array[] = [];
    const response = {
      model_name: model.name,
      model_version: '1',
      ...(body.id !== undefined ? { id: body.id } : {}),
      outputs: wanted.map(({ name, binary: asBinary }) => {
        const t = out[name]!;
        const head = { name, datatype: OIP_DATATYPE[t.dtype], shape: t.dims };
        if (!asBinary) return { ...head, data: toNumbers(t.data) };
        const bytes = toBytes(t.data);
        chunks.push(bytes);
        return { ...head, parameters: { binary_data_size: bytes.byteLength } };
      }),
    };
    if (chunks.length === 0) return response;
    const json = Buffer.from(JSON.stringify(response));
    return reply
      .header('Inference-Header-Content-Length', String(json.byteLength))
      .type('application/octet-stream')
      .send(Buffer.concat([json, ...chunks]));
  };
  async function runStateful(model: ServedModel, batcher: DynamicBatcher, feeds: Record<string, Tensor>, body: InferBody, batch: number): Promise<Record<string, Tensor>> {
    const spec = model.stateful!;
    const p = body.parameters ?? {};
    const id = p.sequence_id;
    if (!((typeof id === 'number' && Number.isInteger(id) && id > 0) || (typeof id === 'string' && id.length > 0))) {
      throw new HttpError(400, `Model "${model.name}" is stateful: parameters.sequence_id must be a positive integer or a non-empty string, got ${JSON.stringify(id)}.`);
    }
    if (batch !== 1) throw new HttpError(400, `Model "${model.name}" is stateful: each request carries one sequence (batch 1), got batch ${batch}.`);
    const start = p.sequence_start === true;
    const end = p.sequence_end === true;
    const key = `${model.name}\u0000${String(id)}`;
    let seq = sequences.get(key);
    if (start) {
      dropSequence(key);
      seq = { states: Object.fromEntries(spec.states.map((s) => [s.input, new Float32Array(s.size)])), busy: false, timer: setTimeout(() => dropSequence(key), SEQUENCE_IDLE_MS) };
      sequences.set(key, seq);
    } else if (!seq) {
      throw new HttpError(400, `Sequence ${JSON.stringify(id)} of model "${model.name}" is not active: send its first request with parameters.sequence_start true.`);
    }
    if (seq.busy) throw new HttpError(409, `Sequence ${JSON.stringify(id)} already has a request in flight; send its requests one after another.`);
    seq.busy = true;
    const all: Record<string, Tensor> = { ...feeds, [spec.control]: { dtype: 'int32', dims: [1, 1], data: Int32Array.of(start ? 1 : 0) } };
    for (const s of spec.states) all[s.input] = { dtype: 'float32', dims: [1, s.size], data: seq.states[s.input]! };
    try {
      const out = await batcher.submit(all);
      for (const s of spec.states) seq.states[s.input] = out[s.output]!.data as Float32Array;
      return out;
    } finally {
      seq.busy = false;
      clearTimeout(seq.timer);
      if (end) sequences.delete(key);
      else seq.timer = setTimeout(() => dropSequence(key), SEQUENCE_IDLE_MS);
    }
  }

  // The infer routes parse their own bodies (JSON, or the binary extension's JSON header + bytes).
  await app.register(async (scope) => {
    scope.removeContentTypeParser(['application/json']);
    scope.addContentTypeParser(['application/json', 'application/octet-stream'], { parseAs: 'buffer' }, (req, body, done) => {
      try {
        done(null, parseInferBody(req, body as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    scope.post('/v2/models/:model/infer', { schema: { body: INFER_SCHEMA } }, infer);
    scope.post('/v2/models/:model/versions/:version/infer', { schema: { body: INFER_SCHEMA } }, infer);
  });

  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // ---- Task endpoints ----
  const schemas = taskSchema(maxItems);

  async function encodeText(b: ServedBundle, sentences: string[]): Promise<{ mu: number[][]; logvar: number[][] }> {
    if (b.manifest.kind !== 'text') throw new HttpError(400, `Bundle "${b.name}" is ${kindWithArticle(b.manifest.kind)} bundle: ${b.manifest.kind === 'image' ? 'send "images", not "sentences"' : 'encode takes "sentences" for text and classifier bundles'}.`);
    const { maxLength } = b.manifest.text;
    const { eos } = b.manifest.text.specialTokens;
    // Every request is padded to the training length T = maxLength + 1, so all encode requests share
    // a shape and batch together (the encoder masks padding with `lengths`).
    const T = maxLength + 1;
    const tokens = new Int32Array(sentences.length * T);
    const lengths = new Int32Array(sentences.length);
    sentences.forEach((s, i) => {
      const ids = [...b.tokenizer!.encode(s).slice(0, maxLength), eos];
      tokens.set(ids, i * T);
      lengths[i] = ids.length;
    });
    const out = await modelOf(b.models.encoder!.name).batcher.submit({
      tokens: { dtype: 'int32', dims: [sentences.length, T], data: tokens },
      lengths: { dtype: 'int32', dims: [sentences.length], data: lengths },
    });
    return { mu: unpack(out.mu!.data as Float32Array, sentences.length), logvar: unpack(out.logvar!.data as Float32Array, sentences.length) };
  }

  async function runImageGraph(b: ServedBundle, key: 'encoder' | 'decoder', rows: Float32Array[]): Promise<Record<string, number[][]>> {
    const m = b.models[key]!;
    const width = rows[0]!.length;
    const out = await modelOf(m.name).batcher.submit({ [m.inputs[0]!.name]: { dtype: 'float32', dims: [rows.length, width], data: pack(rows, width) } });
    return Object.fromEntries(m.outputs.map((o) => [o.name, unpack(out[o.name]!.data as Float32Array, rows.length)]));
  }

  function imageRows(b: ServedBundle, images: number[][]): Float32Array[] {
    if (b.manifest.kind !== 'image') throw new HttpError(400, `Bundle "${b.name}" is ${kindWithArticle(b.manifest.kind)} bundle: ${b.manifest.kind === 'text' ? 'send "sentences", not "images"' : '"images" are for image bundles'}.`);
    const { height, width, channels } = b.manifest.image;
    return rowsOf('images', images, height * width * channels);
  }

  const sigmoidRows = (rows: number[][]): number[][] => rows.map((r) => r.map((x) => 1 / (1 + Math.exp(-x))));

  /** Generates from `z` (greedy/sample through the shared-step scheduler, beam per sequence). */
  async function generate(
    entry: BundleEntry,
    z: Float32Array[],
    decoding: ResolvedDecodingOptions,
    req: FastifyRequest,
    reply: FastifyReply,
    stream: boolean,
  ): Promise<unknown> {
    const b = entry.bundle;
    if (b.manifest.kind !== 'text') throw new HttpError(400, `Bundle "${b.name}" is ${kindWithArticle(b.manifest.kind)} bundle: generate, reconstruct and sample of sentences are for text bundles. Its endpoints: ${TASKS_OF[b.manifest.kind] ?? 'the Open Inference Protocol (/v2/models/...)'}.`);
    const tokenizer = b.tokenizer!;
    const seqs: GeneratedSequence[] = z.map(() => ({ tokens: [], logprobs: [], logprob: 0, finished: false }));
    const special = b.manifest.text.specialTokens;
    const eos = special.eos;
    const result = () => ({
      generations: seqs.map((s, i) => ({
        text: tokenizer.decode(s.tokens),
        tokens: s.tokens.map((t) => tokenizer.idToToken(t)),
        tokenIds: s.tokens,
        logprobs: s.logprobs,
        logprob: s.logprob,
        finished: s.finished,
        z: Array.from(z[i]!),
      })),
    });
    if (decoding.strategy === 'beam') {
      if (stream) throw new HttpError(400, 'Beam search cannot be streamed token by token; send "stream": false for strategy "beam".');
      const stepModel = modelOf(b.models.decoder_step!.name).batcher;
      const initModel = modelOf(b.models.decoder_init!.name).batcher;
      const H = b.manifest.text.hiddenSize;
      const L = b.manifest.latentSize;
      const lstm = b.manifest.text.cell === 'lstm';
      type S = { h: Float32Array; c?: Float32Array; z: Float32Array };
      const step: StepFn<S> = async (tokens, states) => {
        const n = tokens.length;
        const feeds: Record<string, Tensor> = {
          token: { dtype: 'int32', dims: [n], data: Int32Array.from(tokens) },
          h: { dtype: 'float32', dims: [n, H], data: pack(states.map((s) => s.h), H) },
          z: { dtype: 'float32', dims: [n, L], data: pack(states.map((s) => s.z), L) },
        };
        if (lstm) feeds.c = { dtype: 'float32', dims: [n, H], data: pack(states.map((s) => s.c!), H) };
        const out = await stepModel.submit(feeds);
        const logits = out.logits!.data as Float32Array;
        const V = logits.length / n;
        const h = out.h_out!.data as Float32Array;
        const c = lstm ? (out.c_out!.data as Float32Array) : undefined;
        return {
          logits: Array.from({ length: n }, (_, i) => logits.slice(i * V, (i + 1) * V)),
          states: states.map((s, i) => ({ h: h.slice(i * H, (i + 1) * H), ...(c ? { c: c.slice(i * H, (i + 1) * H) } : {}), z: s.z })),
        };
      };
      await Promise.all(
        z.map(async (zi, i) => {
          const init = await initModel.submit({ z: { dtype: 'float32', dims: [1, L], data: zi } });
          const state: S = { h: init.h!.data as Float32Array, ...(lstm ? { c: init.c!.data as Float32Array } : {}), z: zi };
          const best = await beamSearch(step, state, special, decoding);
          seqs[i] = { tokens: best.tokens, logprobs: best.logprobs, logprob: best.logprob, finished: best.finished };
        }),
      );
      return result();
    }
    const onToken = (e: TokenEvent) => {
      const s = seqs[e.index]!;
      s.tokens.push(e.tokenId);
      s.logprobs.push(e.logprob);
      s.logprob += e.logprob;
      if (e.tokenId === eos) s.finished = true;
      if (stream && !reply.raw.destroyed) {
        reply.raw.write(`data: ${JSON.stringify({ index: e.index, tokenId: e.tokenId, token: tokenizer.idToToken(e.tokenId), logprob: e.logprob, done: e.done })}\n\n`);
      }
    };
    if (stream) {
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    }
    const handle = entry.scheduler!.generate(z, decoding, onToken);
    // The client went away before the answer was complete: its sequences leave the running batch.
    const onClose = () => {
      if (!reply.raw.writableFinished) handle.cancel();
    };
    reply.raw.on('close', onClose);
    if (!stream) {
      await handle.done;
      return result();
    }
    try {
      await handle.done;
      if (!reply.raw.destroyed) reply.raw.end(`event: end\ndata: ${JSON.stringify(result())}\n\n`);
    } catch (err) {
      if (!reply.raw.destroyed) reply.raw.end(`event: error\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`);
    } finally {
      // Hijacked replies skip the onResponse hook: account for them here.
      const route = req.routeOptions.url ?? 'unknown';
      metrics.inflight.dec();
      metrics.requests.inc({ route, code: '200' });
      const started = (req as FastifyRequest & { startedAt?: number }).startedAt;
      if (started !== undefined) metrics.latency.observe({ route }, (performance.now() - started) / 1000);
    }
    return reply;
  }

  function latents(b: ServedBundle, body: { z?: number[][]; n?: number; latentSeed?: number; latentTemperature?: number }, decoding: ResolvedDecodingOptions): Float32Array[] {
    const L = b.manifest.latentSize;
    if (body.z !== undefined) return rowsOf('z', body.z, L);
    const t = body.latentTemperature ?? 1;
    if (!(t > 0)) throw new HttpError(400, `latentTemperature must be a positive number, got ${t}.`);
    return samplePrior(body.n ?? 1, L, body.latentSeed ?? decoding.seed, t);
  }

  const decodingOf = (body: DecodingOptions): ResolvedDecodingOptions =>
    resolveDecodingOptions({
      strategy: body.strategy,
      temperature: body.temperature,
      topK: body.topK,
      topP: body.topP,
      beamWidth: body.beamWidth,
      lengthPenalty: body.lengthPenalty,
      repetitionPenalty: body.repetitionPenalty,
      maxTokens: body.maxTokens,
      seed: body.seed,
    } as DecodingOptions);

  /** The bundle's facade method `method`, or a 400 naming the kinds that have it. */
  function facadeMethod<F>(entry: BundleEntry, method: string, task: string, kinds: string): F {
    const facade = entry.facade as Record<string, unknown> | undefined;
    const fn = facade?.[method];
    if (typeof fn !== 'function') throw new HttpError(400, `${task} is for ${kinds} bundles; bundle "${entry.bundle.name}" is ${kindWithArticle(entry.bundle.manifest.kind)} bundle.`);
    return (fn as (...a: unknown[]) => unknown).bind(facade) as F;
  }

  type TaskBody = DecodingOptions & {
    texts?: string[];
    latent?: 'mean' | 'sample';
    attention?: boolean;
    sentences?: string[];
    images?: number[][];
    z?: number[][];
    n?: number;
    latentSeed?: number;
    latentTemperature?: number;
    stream?: boolean;
  };
  const tasks: Record<string, (entry: BundleEntry, body: TaskBody, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>> = {
    encode: async (entry, body) => {
      const b = entry.bundle;
      if (body.sentences && entry.facade) {
        // A classifier's posterior (m1, m2), through the runtime facade.
        const { mu, logvar } = await facadeMethod<(t: string[]) => Promise<{ mu: Float32Array[]; logvar: Float32Array[] }>>(entry, 'encode', 'encode', 'text and classifier')(body.sentences);
        return { mu: mu.map((r) => Array.from(r)), logvar: logvar.map((r) => Array.from(r)) };
      }
      if (body.sentences) return encodeText(b, body.sentences);
      if (body.images) {
        const out = await runImageGraph(b, 'encoder', imageRows(b, body.images));
        const [mu, logvar] = b.models.encoder!.outputs.map((o) => out[o.name]!);
        return { mu, logvar };
      }
      throw new HttpError(400, 'encode needs "sentences" (text bundles) or "images" (image bundles).');
    },
    decode: async ({ bundle: b }, body) => {
      if (b.manifest.kind !== 'image') throw new HttpError(400, `decode is for image bundles; bundle "${b.name}" is ${kindWithArticle(b.manifest.kind)} bundle${b.manifest.kind === 'text' ? ': use generate with "z"' : ''}.`);
      const out = await runImageGraph(b, 'decoder', rowsOf('z', body.z!, b.manifest.latentSize));
      return { images: sigmoidRows(out[b.models.decoder!.outputs[0]!.name]!) };
    },
    generate: async (entry, body, req, reply) => {
      const decoding = decodingOf(body);
      return generate(entry, latents(entry.bundle, body, decoding), decoding, req, reply, body.stream === true);
    },
    reconstruct: async (entry, body, req, reply) => {
      const b = entry.bundle;
      if (body.images) {
        const mu = (await tasks.encode!(entry, { images: body.images }, req, reply)) as { mu: number[][] };
        const out = await runImageGraph(b, 'decoder', mu.mu.map((r) => Float32Array.from(r)));
        return { images: sigmoidRows(out[b.models.decoder!.outputs[0]!.name]!) };
      }
      if (!body.sentences) throw new HttpError(400, 'reconstruct needs "sentences" (text bundles) or "images" (image bundles).');
      const decoding = decodingOf(body);
      const { mu } = await encodeText(b, body.sentences);
      return generate(entry, mu.map((r) => Float32Array.from(r)), decoding, req, reply, body.stream === true);
    },
    classify: async (entry, body) => {
      const classify = facadeMethod<(t: string[]) => Promise<unknown[]>>(entry, 'classify', 'classify', 'classifier');
      return { classifications: await classify(body.texts!) };
    },
    translate: async (entry, body) => {
      const translate = facadeMethod<(t: string[], o: object) => Promise<Array<Array<{ z?: Float32Array }>>>>(entry, 'translate', 'translate', 'seq2seq');
      const { texts: sources, ...options } = body;
      const out = await translate(sources!, options);
      return { translations: out.map((list) => list.map(({ z, ...t }) => ({ ...t, ...(z ? { z: Array.from(z) } : {}) }))) };
    },
    sample: async (entry, body, req, reply) => {
      const b = entry.bundle;
      const n = body.n!;
      if (b.manifest.kind === 'image') {
        // As ImageVae.sample: latentTemperature scales the prior (temperature: the deprecated alias).
        const t = body.latentTemperature ?? body.temperature ?? 1;
        if (!(t > 0)) throw new HttpError(400, `latentTemperature must be a positive number, got ${t}.`);
        const z = samplePrior(n, b.manifest.latentSize, body.seed ?? 0, t);
        const out = await runImageGraph(b, 'decoder', z);
        return { z: z.map((r) => Array.from(r)), images: sigmoidRows(out[b.models.decoder!.outputs[0]!.name]!) };
      }
      // As TextVae.sample: generate with n prior draws (seed, latentTemperature) and these decoding options.
      const decoding = decodingOf(body);
      return generate(entry, latents(b, body, decoding), decoding, req, reply, body.stream === true);
    },
  };

  for (const [action, schema] of Object.entries(schemas)) {
    // `::` is a literal colon in fastify routes: /v1/models/{bundle}:generate
    app.post(`/v1/models/:bundle(^[A-Za-z0-9_.-]+)::${action}`, { schema: { body: schema } }, async (req, reply) => {
      const entry = bundleOf((req.params as { bundle: string }).bundle);
      return tasks[action]!(entry, req.body as TaskBody, req, reply);
    });
  }

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await pool.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;

  return {
    url,
    app,
    metrics,
    async drain() {
      draining = true;
      await app.close();
      for (const key of [...sequences.keys()]) dropSequence(key);
      await pool.close();
    },
  };
}
