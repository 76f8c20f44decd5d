/**
 * The demo page: loads the bundle served at `bundle/` with @vaekit/runtime's browser build as soon as
 * it opens, with a byte progress bar, on the best backend this browser and bundle allow (webgpu, then
 * webgl, then wasm; it says why it skipped the others). Text bundles: streaming generation with
 * sampling controls, reconstruction, interpolation and a clickable latent map. Image bundles: a
 * drawing pad encoded and reconstructed live, latent sliders, a sample grid and an interpolation.
 * Translator (seq2seq) bundles: translations of the typed sentences with the attention weights drawn as
 * a heatmap.
 *
 * `window.vaekitDemo` exposes the loaded model and the page's state to the end-to-end tests. Query
 * `?backend=webgpu` (or a list, `webgpu,wasm`) asks for backends instead of choosing them.
 */
import {
  configureWasm,
  interpolateLatent,
  loadVae,
  pickVariant,
  samplePrior,
  unsuitableBackend,
  type BackendName,
  type BundleManifest,
  type Generation,
  type ImageVae,
  type TextClassifier,
  type TextVae,
  type Translation,
  type Translator,
  type Vae,
} from '@vaekit/runtime';
import { pca2 } from '../src/report/pca.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement>(id).value);
const BUNDLE = new URL('bundle/', location.href);
const ORDER: BackendName[] = ['webgpu', 'webgl', 'wasm'];
const threads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

// The server exposes onnxruntime-web's .wasm files here; threads need a cross-origin isolated page.
configureWasm({ wasmPaths: new URL('ort/', location.href).href, numThreads: threads });

let vae: Vae | TextClassifier | Translator | undefined;
let manifest: BundleManifest | undefined;

// ---------------------------------------------------------------------------------------------
// Status and byte progress

function show(message: string, error = false): void {
  const status = $('status');
  status.textContent = message;
  status.className = error ? 'error' : '';
}

const progress = { loaded: 0, total: 0, files: new Map<string, number>() };

function renderProgress(): void {
  const mb = (b: number) => (b / 1e6).toFixed(1);
  const total = Math.max(progress.total, progress.loaded);
  const bar = $<HTMLProgressElement>('progress');
  bar.max = Math.max(1, total);
  bar.value = progress.loaded;
  $('progressText').textContent = `${mb(progress.loaded)} of ${mb(total)} MB`;
}

/**
 * Counts the bytes of the bundle's and onnxruntime's downloads as they stream in. The runtime
 * fetches them itself; wrapping `fetch` measures whatever it asks for, with the manifest's sizes (or
 * Content-Length) as the total.
 */
const realFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const res = await realFetch(input, init);
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url, location.href);
  const path = url.pathname;
  if (!res.ok || !res.body || !(path.includes('/bundle/') || path.endsWith('.wasm'))) return res;
  const size = Number(res.headers.get('content-length')) || 0;
  progress.files.set(path, size);
  // Files the manifest announced are in the total once; anything else (or fetched again) adds to it.
  if (expected.has(path)) expected.delete(path);
  else progress.total += size;
  renderProgress();
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      progress.loaded += value.byteLength;
      renderProgress();
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
};
const expected = new Set<string>();

// ---------------------------------------------------------------------------------------------
// Choosing a backend

interface BackendCheck {
  backend: BackendName;
  usable: boolean;
  why: string;
}

/** Which backends this browser and this bundle allow, and why not the others. */
async function checkBackends(m: BundleManifest): Promise<BackendCheck[]> {
  const checks: BackendCheck[] = [];
  for (const backend of ORDER) {
    const bundleSays = unsuitableBackend(m, backend, pickVariant(m, backend).profile);
    if (bundleSays) {
      checks.push({ backend, usable: false, why: bundleSays });
      continue;
    }
    if (backend === 'webgpu') {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
      checks.push(
        !gpu
          ? { backend, usable: false, why: 'this browser has no WebGPU (navigator.gpu is missing)' }
          : !adapter
            ? { backend, usable: false, why: 'WebGPU gives no adapter here (no GPU, or it is blocked)' }
            : { backend, usable: true, why: 'a WebGPU adapter is available' },
      );
    } else if (backend === 'webgl') {
      const ok = Boolean(document.createElement('canvas').getContext('webgl2'));
      checks.push(ok ? { backend, usable: true, why: 'WebGL2 is available and the bundle has webgl-profile graphs' } : { backend, usable: false, why: 'this browser has no WebGL2' });
    } else {
      checks.push({ backend, usable: true, why: `WebAssembly runs everywhere (threads ${threads > 1 ? `on: ${threads}` : 'off: the page is not cross-origin isolated'})` });
    }
  }
  return checks;
}

function renderWhy(checks: BackendCheck[], chosen: BackendName | undefined, failures: Map<string, string>, tried: BackendName[]): void {
  const items = checks.map((c) => {
    const li = document.createElement('li');
    const failed = failures.get(c.backend);
    if (c.backend === chosen) {
      li.className = 'chosen';
      li.textContent = `${c.backend}: chosen (${c.why})`;
    } else if (failed) li.textContent = `${c.backend}: tried, failed to load (${failed})`;
    else if (!c.usable) li.textContent = `${c.backend}: ${tried.includes(c.backend) ? 'cannot be used' : 'skipped'} (${c.why})`;
    else if (!tried.includes(c.backend)) li.textContent = `${c.backend}: not asked for (usable: ${c.why})`;
    else li.textContent = `${c.backend}: not needed (a backend before it loaded)`;
    return li;
  });
  $('why').replaceChildren(...items);
  // Only the backends the bundle and browser can use are offered.
  for (const option of $<HTMLSelectElement>('backend').options) {
    const c = checks.find((k) => k.backend === option.value);
    if (c) {
      option.disabled = !c.usable;
      option.textContent = c.usable ? c.backend : `${c.backend} (unavailable)`;
      option.title = c.why;
    }
  }
}

function describe(): string {
  if (vae?.kind === 'seq2seq') return `seq2seq bundle on ${vae.backend} (latent ${vae.latentSize}, threads ${globalThis.crossOriginIsolated ? 'on' : 'off'})`;
  return vae ? `${vae.kind} bundle on ${vae.backend} (graphs: ${vae.variant}, latent ${vae.latentSize}, threads ${globalThis.crossOriginIsolated ? 'on' : 'off'})` : 'not loaded';
}

function summary(m: BundleManifest): string {
  const t = m.training as (Record<string, unknown> & { metrics?: Record<string, number> }) | undefined;
  if (!t) return `${m.kind} VAE, latent size ${m.latentSize}.`;
  if ((m.kind as string) === 'classifier') {
    const labels = (m as unknown as { classifier: { labels: string[] } }).classifier.labels;
    return `Classifier (${String(t.arch ?? '')}) of ${labels.join(' / ')} trained on ${String(t.dataset ?? '').split(/[\\/]/).pop()} for ${String(t.epochs ?? '?')} epochs.`;
  }
  const data = String(t.dataset ?? '').split(/[\\/]/).pop();
  const elbo = t.metrics?.elbo;
  if ((m.kind as string) === 'seq2seq') {
    const s = (m as unknown as { seq2seq: { sourceLanguage?: string; targetLanguage?: string } }).seq2seq;
    return `Translator ${s.sourceLanguage ?? ''}${s.sourceLanguage ? ' → ' : ''}${s.targetLanguage ?? ''} (${String(t.arch ?? '')}, latent ${m.latentSize}) trained on ${data} for ${String(t.epochs ?? '?')} epochs.`;
  }
  return `${m.kind === 'text' ? 'Sentence' : 'Image'} VAE (${String(t.arch ?? '')}, latent ${m.latentSize}) trained on ${data} for ${String(t.epochs ?? '?')} epochs${
    typeof elbo === 'number' ? `; held-out −ELBO ${elbo.toFixed(1)} nats` : ''
  }.`;
}

function clearResults(): void {
  for (const id of ['samples', 'reconstruction', 'interpolation', 'mapOut', 'code']) $(id).replaceChildren();
  for (const id of ['grid', 'strip', 'recon', 'walk', 'seen', 'map']) {
    const c = $<HTMLCanvasElement>(id);
    c.getContext('2d')?.clearRect(0, 0, c.width, c.height);
  }
  $('text').hidden = true;
  $('image').hidden = true;
  $('classifier').hidden = true;
  $('translator').hidden = true;
  $('translations').replaceChildren();
  $('strip').hidden = true;
  $('probabilities').replaceChildren();
  $('verdict').textContent = '';
}

/** Loads the bundle: `requested` backends, or the best usable ones when `auto`. */
async function load(requested: string): Promise<void> {
  clearResults();
  await vae?.dispose();
  vae = undefined;
  demo.vae = undefined;
  progress.loaded = 0;
  progress.total = 0;
  progress.files.clear();
  expected.clear();
  $('progressBox').classList.remove('done');
  renderProgress();
  const res = await fetch(new URL('manifest.json', BUNDLE));
  if (!res.ok) throw new Error(`bundle/manifest.json could not be fetched (HTTP ${res.status}).`);
  manifest = (await res.json()) as BundleManifest;
  $('summary').textContent = summary(manifest);
  const checks = await checkBackends(manifest);
  const list = requested === 'auto' ? checks.filter((c) => c.usable).map((c) => c.backend) : (requested.split(',') as BackendName[]);
  // The files the first backend needs are the total to expect; others are added if it falls back.
  const first = pickVariant(manifest, list[0] ?? 'wasm');
  const s2s = (manifest as unknown as { seq2seq?: { sourceTokenizer: string; targetTokenizer: string } }).seq2seq;
  const classifierTokenizer = (manifest as unknown as { classifier?: { tokenizer: string } }).classifier?.tokenizer;
  const files = [
    ...Object.values(first.graphs as Record<string, { file: string }>).map((g) => g.file),
    ...(manifest.kind === 'text' ? [manifest.text.tokenizer] : []),
    ...(classifierTokenizer ? [classifierTokenizer] : []),
    ...(s2s ? [s2s.sourceTokenizer, s2s.targetTokenizer] : []),
  ];
  for (const f of files) {
    const path = new URL(f, BUNDLE).pathname;
    expected.add(path);
    progress.total += manifest.files[f]?.bytes ?? 0;
  }
  renderProgress();
  const failures = new Map<string, string>();
  const cached = new Set<string>();
  const t0 = performance.now();
  demo.backendChecks = checks;
  try {
    vae = (await loadVae(BUNDLE, {
      backend: list.length === 1 ? list[0]! : list,
      onProgress: (e) => {
        if (e.stage === 'verify') show(`downloading and verifying ${e.file}…`);
        // Bytes from the browser cache never reach fetch: count them here, once per file.
        if (e.stage === 'download' && e.fromCache && e.total && !cached.has(e.file)) {
          cached.add(e.file);
          progress.loaded += e.total;
          renderProgress();
        }
        if (e.stage === 'session') show(`compiling ${e.file} for ${e.backend}…`);
        if (e.stage === 'fallback') failures.set(list[list.indexOf(e.backend!) - 1] ?? '?', e.message ?? '');
      },
    })) as Vae | TextClassifier | Translator;
  } finally {
    renderWhy(checks, vae?.backend, failures, list);
  }
  demo.loadMs = performance.now() - t0;
  demo.vae = vae;
  $('progressBox').classList.add('done');
  if (vae.kind === 'text') await openText(vae);
  else if (vae.kind === 'classifier') await openClassifier();
  else if (vae.kind === 'seq2seq') await translate();
  else await openImage(vae);
}

// ---------------------------------------------------------------------------------------------
// Classifier view: type a text, see the probability of each class

function classifier(): TextClassifier {
  if (vae?.kind !== 'classifier') throw new Error('Load a classifier bundle first.');
  return vae;
}

async function classifyReview(): Promise<void> {
  const [result] = await classifier().classify([$<HTMLTextAreaElement>('review').value]);
  demo.lastClassification = result;
  $('verdict').textContent = result!.label;
  $('probabilities').replaceChildren(
    ...Object.entries(result!.probabilities).map(([label, p]) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(p * 100).toFixed(1)}%`;
      li.append(`${label} ${(p * 100).toFixed(1)}% `, bar);
      return li;
    }),
  );
}

async function openClassifier(): Promise<void> {
  $('classifier').hidden = false;
  await classifyReview();
}
$('classify').addEventListener('click', () => void run('classify', classifyReview));

/**
 * Model calls run one at a time: onnxruntime-web's WebGPU backend fails ("Session mismatch") when a
 * second session runs while another's run is pending, as live drawing and sliders would cause.
 */
let queue: Promise<void> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn);
  queue = next.then(() => {}, () => {});
  return next;
}

async function run(what: string, fn: () => Promise<void>): Promise<void> {
  demo.busy++;
  try {
    await queue;
    show(`${what}…`);
    const t0 = performance.now();
    await exclusive(fn);
    show(`${describe()}\n${what}: ${(performance.now() - t0).toFixed(0)} ms`);
  } catch (err) {
    show(`${what} failed: ${(err as Error).message}`, true);
    if (what === 'load') clearResults();
  } finally {
    demo.busy--;
  }
}

// ---------------------------------------------------------------------------------------------
// Text

function text(): TextVae {
  if (vae?.kind !== 'text') throw new Error('Load a text bundle first.');
  return vae;
}

/** A sentence as list-item content: `<unk>` marked, and a cut-off mark when `maxTokens` ended it. */
function sentenceNodes(tokens: string[], finished: boolean): Node[] {
  const nodes: Node[] = [];
  tokens.forEach((t, i) => {
    if (i > 0) nodes.push(document.createTextNode(' '));
    if (t === '<unk>') nodes.push(Object.assign(document.createElement('span'), { className: 'unk', textContent: '<unk>', title: 'a word outside the vocabulary' }));
    else nodes.push(document.createTextNode(t));
  });
  if (!finished) nodes.push(Object.assign(document.createElement('span'), { className: 'cut', textContent: ' …', title: 'cut off at the token limit' }));
  if (tokens.length === 0) nodes.push(document.createTextNode('(empty)'));
  return nodes;
}

const visible = (g: Generation) => g.tokens.filter((t, i) => !(i === g.tokens.length - 1 && g.finished));

function list(id: string, gens: Generation[]): void {
  $(id).replaceChildren(...gens.map((g) => {
    const li = document.createElement('li');
    li.replaceChildren(...sentenceNodes(visible(g), g.finished));
    return li;
  }));
}

function decodingOptions() {
  const strategy = $<HTMLSelectElement>('strategy').value as 'greedy' | 'sample' | 'beam';
  return {
    strategy,
    temperature: num('temperature'),
    topK: num('topK'),
    topP: num('topP'),
    beamWidth: num('beamWidth'),
    repetitionPenalty: num('repetition'),
    maxTokens: num('maxTokens'),
    seed: num('seed'),
  };
}

/** Generates with the page's controls; greedy and sampled sentences appear token by token. */
async function generate(): Promise<void> {
  const options = decodingOptions();
  const n = num('n');
  const ol = $('samples');
  if (options.strategy === 'beam') {
    list('samples', await text().generate({ ...options, n }));
    return;
  }
  const tokens: string[][] = Array.from({ length: n }, () => []);
  const finished = new Array<boolean>(n).fill(false);
  const items = tokens.map(() => document.createElement('li'));
  ol.replaceChildren(...items);
  demo.streamUpdates = 0;
  for await (const t of text().stream({ ...options, n })) {
    if (t.tokenId === text().manifest.text.specialTokens.eos) finished[t.index] = true;
    else tokens[t.index]!.push(t.token);
    if (t.done) items[t.index]!.replaceChildren(...sentenceNodes(tokens[t.index]!, finished[t.index]!));
    else items[t.index]!.textContent = tokens[t.index]!.join(' ');
    demo.streamUpdates++;
    // Let the browser paint between tokens.
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** The latent map: codes of sentences on the plane of their two principal directions. */
const map = { mean: new Float32Array(0) as Float32Array, axes: [] as Float32Array[], range: [3, 3] as [number, number], points: [] as Array<{ x: number; y: number; text: string }>, picked: undefined as undefined | { x: number; y: number } };

async function placeSentences(): Promise<void> {
  const sentences = $<HTMLTextAreaElement>('mapSentences').value.split('\n').map((s) => s.trim()).filter(Boolean).slice(0, 200);
  const v = text();
  const Z = v.latentSize;
  const { mu } = sentences.length ? await v.encode(sentences) : { mu: [] as Float32Array[] };
  const flat = new Float32Array(mu.length * Z);
  mu.forEach((m, i) => flat.set(m, i * Z));
  map.mean = new Float32Array(Z);
  mu.forEach((m) => m.forEach((x, d) => (map.mean[d]! += x / mu.length)));
  // The two main directions of these codes (PCA); the first two latent axes when there are too few.
  const axis = (d: number) => Float32Array.from({ length: Z }, (_, k) => (k === d ? 1 : 0));
  map.axes = [axis(0), axis(Math.min(1, Z - 1))];
  if (mu.length >= 3 && Z >= 2) {
    const centred = flat.map((x, i) => x - map.mean[i % Z]!);
    // Directions from projections: regress each latent dim on the 2-D scores (the PCA loadings).
    const { points } = pca2(flat, mu.length, Z);
    const dirs = [0, 1].map((c) => {
      const s = points.map((p) => p[c]!);
      const ss = s.reduce((a, x) => a + x * x, 0) || 1;
      return Float32Array.from({ length: Z }, (_, d) => s.reduce((a, x, i) => a + x * centred[i * Z + d]!, 0) / ss);
    });
    const unit = dirs.map((w) => {
      const n = Math.hypot(...w) || 1;
      return w.map((x) => x / n);
    });
    if (unit.every((u) => u.some((x) => x !== 0))) map.axes = unit;
  }
  map.points = mu.map((m, i) => {
    const c = m.map((x, d) => x - map.mean[d]!);
    return { x: c.reduce((a, x, d) => a + x * map.axes[0]![d]!, 0), y: c.reduce((a, x, d) => a + x * map.axes[1]![d]!, 0), text: sentences[i]! };
  });
  // Each axis spans its points with a margin (at least ±0.5, so one point or none still gives a plane).
  map.range = [Math.max(0.5, ...map.points.map((p) => Math.abs(p.x) * 1.3)), Math.max(0.5, ...map.points.map((p) => Math.abs(p.y) * 1.3))];
  drawMap();
}

function drawMap(): void {
  const canvas = $<HTMLCanvasElement>('map');
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = '#e3e6ea';
  ctx.beginPath();
  ctx.moveTo(W / 2, 0);
  ctx.lineTo(W / 2, H);
  ctx.moveTo(0, H / 2);
  ctx.lineTo(W, H / 2);
  ctx.stroke();
  const px = (x: number) => W / 2 + (x / map.range[0]) * (W / 2);
  const py = (y: number) => H / 2 - (y / map.range[1]) * (H / 2);
  ctx.font = '11px system-ui, sans-serif';
  // Labels that would overlap one already drawn are left out (the point stays; hovering is not needed to click).
  const taken: Array<[number, number, number, number]> = [];
  for (const p of map.points) {
    ctx.fillStyle = '#3b5bdb';
    ctx.beginPath();
    ctx.arc(px(p.x), py(p.y), 3.5, 0, 2 * Math.PI);
    ctx.fill();
    const label = p.text.length > 28 ? `${p.text.slice(0, 27)}…` : p.text;
    const w = ctx.measureText(label).width;
    const x = Math.min(px(p.x) + 5, W - w - 2);
    const y = py(p.y) - 4;
    if (taken.some(([a, b, c, d]) => x < c && x + w > a && y - 11 < d && y > b)) continue;
    taken.push([x, y - 11, x + w, y]);
    ctx.fillStyle = '#5b6472';
    ctx.fillText(label, x, y);
  }
  if (map.picked) {
    ctx.strokeStyle = '#c92a2a';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(px(map.picked.x), py(map.picked.y), 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
}

/** The latent vector at canvas pixel (cx, cy) of the map. */
function mapZ(cx: number, cy: number): Float32Array {
  const canvas = $<HTMLCanvasElement>('map');
  const x = ((cx - canvas.width / 2) / (canvas.width / 2)) * map.range[0];
  const y = (-(cy - canvas.height / 2) / (canvas.height / 2)) * map.range[1];
  map.picked = { x, y };
  return map.mean.map((m, d) => m + x * map.axes[0]![d]! + y * map.axes[1]![d]!);
}

async function decodeMapPoint(cx: number, cy: number): Promise<void> {
  const z = mapZ(cx, cy);
  drawMap();
  const [g] = await text().generate({ z: [z], maxTokens: num('maxTokens') });
  $('mapOut').replaceChildren(...sentenceNodes(visible(g!), g!.finished));
  demo.lastMapZ = Array.from(z);
}

async function openText(v: TextVae): Promise<void> {
  $('text').hidden = false;
  // The samples first: the page's first output streams token by token as soon as the bundle is loaded.
  await generate();
  // Sentences of the model's own: prior samples, so every word is in its vocabulary.
  const gens = await v.generate({ n: 12, latentSeed: 7, seed: 7, strategy: 'sample', temperature: 0.8, topP: 0.9, maxTokens: Math.min(20, v.manifest.text.maxLength + 1) });
  $<HTMLTextAreaElement>('mapSentences').value = [...new Set(gens.filter((g) => g.finished).map((g) => v.tokenizer.decode(g.tokenIds.slice(0, -1))))].join('\n');
  await placeSentences();
  list('reconstruction', await v.reconstruct($<HTMLInputElement>('sentence').value, { maxTokens: num('maxTokens') }));
}

// ---------------------------------------------------------------------------------------------
// Translator

function translator(): Translator {
  if (vae?.kind !== 'seq2seq') throw new Error('Load a translator bundle first.');
  return vae;
}

/** The attention weights of one translation as a heatmap: target tokens down, source tokens across. */
function drawHeatmap(t: Translation): void {
  const canvas = $<HTMLCanvasElement>('heatmap');
  const att = t.attention ?? [];
  const rowsT = t.tokens.slice(0, att.length);
  const ctx = canvas.getContext('2d')!;
  const font = '13px ui-monospace, monospace';
  ctx.font = font;
  const cell = 28;
  const left = Math.ceil(Math.max(40, ...rowsT.map((w) => ctx.measureText(w).width))) + 8;
  const top = Math.ceil(Math.max(40, ...t.sourceTokens.map((w) => ctx.measureText(w).width))) + 8;
  canvas.width = left + cell * t.sourceTokens.length + 4;
  canvas.height = top + cell * rowsT.length + 4;
  ctx.font = font;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#1d2330';
  ctx.textBaseline = 'middle';
  t.sourceTokens.forEach((w, s) => {
    ctx.save();
    ctx.translate(left + s * cell + cell / 2, top - 6);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(w, 0, 0);
    ctx.restore();
  });
  rowsT.forEach((w, r) => {
    ctx.fillStyle = '#1d2330';
    ctx.fillText(w, 4, top + r * cell + cell / 2);
    att[r]!.forEach((a, s) => {
      const shade = Math.round(255 * (1 - a));
      ctx.fillStyle = `rgb(${shade}, ${shade}, 255)`;
      ctx.fillRect(left + s * cell + 1, top + r * cell + 1, cell - 2, cell - 2);
    });
  });
  demo.heatmap = { rows: rowsT.length, columns: t.sourceTokens.length };
}

async function translate(): Promise<void> {
  $('translator').hidden = false;
  const sources = $<HTMLTextAreaElement>('sources').value.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (sources.length === 0) throw new Error('Type a sentence to translate.');
  const strategy = $<HTMLSelectElement>('tStrategy').value as 'greedy' | 'sample' | 'beam';
  const results = await translator().translate(sources, { strategy, beamWidth: num('tBeam'), n: num('tN'), seed: num('tSeed'), attention: true });
  const items: HTMLLIElement[] = [];
  results.forEach((list, i) =>
    list.forEach((t, k) => {
      const li = document.createElement('li');
      li.className = 'pick';
      li.title = 'show its attention weights';
      li.replaceChildren(document.createTextNode(k === 0 ? `${sources[i]} → ` : '  … → '), ...sentenceNodes(t.tokens.filter((_, j) => !(j === t.tokens.length - 1 && t.finished)), t.finished));
      li.onclick = () => {
        items.forEach((x) => x.classList.remove('on'));
        li.classList.add('on');
        drawHeatmap(t);
      };
      items.push(li);
    }),
  );
  $('translations').replaceChildren(...items);
  items[0]?.click();
  demo.translations = results.map((list) => list.map((t) => t.text));
}

// ---------------------------------------------------------------------------------------------
// Images

function image(): ImageVae {
  if (vae?.kind !== 'image') throw new Error('Load an image bundle first.');
  return vae;
}

function drawImages(canvas: HTMLCanvasElement, images: Float32Array[], columns: number): void {
  const [h, w, c] = image().imageShape;
  const rows = Math.ceil(images.length / columns);
  canvas.width = columns * w;
  canvas.height = rows * h;
  if (columns > 1) canvas.style.width = `${Math.min(columns * w * 3, 540)}px`;
  const ctx = canvas.getContext('2d')!;
  const data = ctx.createImageData(canvas.width, canvas.height);
  images.forEach((img, k) => {
    const ox = (k % columns) * w;
    const oy = Math.floor(k / columns) * h;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = ((oy + y) * canvas.width + ox + x) * 4;
        for (let ch = 0; ch < 3; ch++) data.data[o + ch] = Math.round(255 * img[(y * w + x) * c + Math.min(ch, c - 1)]!);
        data.data[o + 3] = 255;
      }
  });
  ctx.putImageData(data, 0, 0);
}

/** The drawing as the model's input: ink cropped, scaled into 20x20 and centred by mass in 28x28, like MNIST. */
function drawnPixels(): Float32Array | undefined {
  const pad = $<HTMLCanvasElement>('pad');
  const [h, w] = image().imageShape;
  const src = pad.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, pad.width, pad.height).data;
  let x0 = pad.width, y0 = pad.height, x1 = -1, y1 = -1;
  for (let y = 0; y < pad.height; y++)
    for (let x = 0; x < pad.width; x++)
      if (src[(y * pad.width + x) * 4]! > 20) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
  if (x1 < 0) return undefined;
  const box = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const inner = Math.round(Math.min(h, w) * (20 / 28));
  const s = inner / box;
  const small = document.createElement('canvas');
  small.width = w;
  small.height = h;
  const ctx = small.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, w, h);
  ctx.imageSmoothingQuality = 'high';
  const dw = (x1 - x0 + 1) * s;
  const dh = (y1 - y0 + 1) * s;
  ctx.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (w - dw) / 2, (h - dh) / 2, dw, dh);
  const raw = ctx.getImageData(0, 0, w, h).data;
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = raw[(y * w + x) * 4]! / 255;
      mass += v; mx += v * x; my += v * y;
    }
  const dx = Math.round((w - 1) / 2 - mx / mass);
  const dy = Math.round((h - 1) / 2 - my / mass);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < w && sy >= 0 && sy < h) out[y * w + x] = raw[(sy * w + sx) * 4]! / 255;
    }
  return out;
}

let drawnMu: Float32Array | undefined;
let encodeQueued = false;

/** Encodes the drawing and shows its code and reconstruction (at most one encoding in flight). */
async function encodeDrawing(): Promise<void> {
  const x = drawnPixels();
  if (!x) return;
  const v = image();
  drawImages($<HTMLCanvasElement>('seen'), [x], 1);
  const { mu, logvar } = await v.encode([x]);
  drawnMu = mu[0]!;
  const [rec] = await v.decode([drawnMu]);
  drawImages($<HTMLCanvasElement>('recon'), [rec!], 1);
  $('code').replaceChildren(...Array.from(drawnMu, (m, d) => {
    const span = document.createElement('span');
    span.textContent = m.toFixed(2);
    span.title = `z${d}: mean ${m.toFixed(3)}, sd ${Math.exp(0.5 * logvar[0]![d]!).toFixed(3)}`;
    const a = Math.min(1, Math.abs(m) / 3);
    span.style.background = m >= 0 ? `rgba(59,91,219,${a})` : `rgba(201,42,42,${a})`;
    span.style.color = a > 0.5 ? '#fff' : '';
    return span;
  }));
  demo.encodings++;
  await walk();
}

/** Encodes on the next frame; strokes drawn while an encoding waits or runs join the next one. */
function scheduleEncode(): void {
  if (encodeQueued) return;
  encodeQueued = true;
  requestAnimationFrame(() => {
    void run('encode', async () => {
      encodeQueued = false;
      await encodeDrawing();
    });
  });
}

function setUpPad(): void {
  const pad = $<HTMLCanvasElement>('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let last: { x: number; y: number } | undefined;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * pad.width, y: ((e.clientY - r.top) / r.height) * pad.height };
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 20;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
    scheduleEncode();
  });
  const end = () => {
    if (last) scheduleEncode();
    last = undefined;
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  $('clear').onclick = () => {
    clear();
    drawnMu = undefined;
    $('code').replaceChildren();
    for (const id of ['seen', 'recon']) $<HTMLCanvasElement>(id).getContext('2d')!.clearRect(0, 0, 28, 28);
    void run('walk', walk);
  };
}

/** The slider point: the drawing's code (or the origin) moved along the two chosen latent axes. */
function walkZ(): Float32Array {
  const Z = image().latentSize;
  const z = drawnMu ? Float32Array.from(drawnMu) : new Float32Array(Z);
  const a = Number($<HTMLSelectElement>('dimA').value);
  const b = Number($<HTMLSelectElement>('dimB').value);
  z[a]! += num('sliderA');
  z[b]! += num('sliderB');
  return z;
}

async function walk(): Promise<void> {
  const z = walkZ();
  const [img] = await image().decode([z]);
  drawImages($<HTMLCanvasElement>('walk'), [img!], 1);
  demo.lastWalkZ = Array.from(z);
}

async function sampleGrid(): Promise<void> {
  drawImages($<HTMLCanvasElement>('grid'), (await image().sample(64, { seed: num('imageSeed'), temperature: num('imageTemp') })).images, 8);
}

async function openImage(v: ImageVae): Promise<void> {
  $('image').hidden = false;
  const dims = Array.from({ length: v.latentSize }, (_, d) => new Option(`z${d}`, String(d)));
  $<HTMLSelectElement>('dimA').replaceChildren(...dims.map((o) => o.cloneNode(true) as HTMLOptionElement));
  $<HTMLSelectElement>('dimB').replaceChildren(...dims);
  $<HTMLSelectElement>('dimB').value = String(Math.min(1, v.latentSize - 1));
  await walk();
  await sampleGrid();
}

// ---------------------------------------------------------------------------------------------
// Wiring

$('backend').onchange = () => run('load', () => load($<HTMLSelectElement>('backend').value));
$('sample').onclick = () => run('generate', generate);
$('reconstruct').onclick = () => run('reconstruct', async () => list('reconstruction', await text().reconstruct($<HTMLInputElement>('sentence').value, { maxTokens: num('maxTokens') })));
$('interpolate').onclick = () =>
  run('interpolate', async () => list('interpolation', await text().interpolate($<HTMLInputElement>('a').value, $<HTMLInputElement>('b').value, { steps: num('steps'), maxTokens: num('maxTokens') })));
$('mapEncode').onclick = () => run('place sentences', placeSentences);
$('map').addEventListener('click', (e) => {
  const canvas = $<HTMLCanvasElement>('map');
  const r = canvas.getBoundingClientRect();
  void run('decode point', () => decodeMapPoint(((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height));
});
$('imageSample').onclick = () => run('sample', sampleGrid);
$('imageInterpolate').onclick = () =>
  run('interpolate', async () => {
    const [a, b] = samplePrior(2, image().latentSize, num('imageSeed') + 1);
    drawImages($<HTMLCanvasElement>('strip'), await image().decode(interpolateLatent(a!, b!, 10, 'slerp')), 10);
    $('strip').hidden = false;
  });
for (const id of ['sliderA', 'sliderB', 'dimA', 'dimB']) $(id).addEventListener('input', () => void run('walk', walk));
setUpPad();
$('translate').onclick = () => run('translate', translate);

/** What the end-to-end tests drive: the loaded model and page state, plain arrays in and out. */
const demo = {
  vae: undefined as Vae | TextClassifier | Translator | undefined,
  lastClassification: undefined as { label: string; probabilities: Record<string, number> } | undefined,
  translations: undefined as string[][] | undefined,
  heatmap: undefined as { rows: number; columns: number } | undefined,
  loadMs: 0,
  ready: false,
  /** Operations in flight. */
  busy: 0,
  backendChecks: [] as BackendCheck[],
  progress,
  streamUpdates: 0,
  encodings: 0,
  lastMapZ: undefined as number[] | undefined,
  lastWalkZ: undefined as number[] | undefined,
  drawnPixels: () => (drawnPixels() ? Array.from(drawnPixels()!) : undefined),
  async generate(z: number[][], options: Record<string, unknown> = {}) {
    const gens = await exclusive(() => text().generate({ ...options, z: z.map((v) => Float32Array.from(v)) }));
    return gens.map((g) => ({ text: g.text, tokenIds: g.tokenIds, logprobs: g.logprobs }));
  },
  async encode(input: string[] | number[][]) {
    const { mu, logvar } = await exclusive(() => (typeof input[0] === 'string' ? text().encode(input as string[]) : image().encode((input as number[][]).map((v) => Float32Array.from(v)))));
    return { mu: mu.map((v) => Array.from(v)), logvar: logvar.map((v) => Array.from(v)) };
  },
  async decode(z: number[][]) {
    return (await exclusive(() => image().decode(z.map((v) => Float32Array.from(v))))).map((v) => Array.from(v));
  },
  /** Greedy generation speed: tokens per second for `batch` sequences of `maxTokens`, after a warm-up. */
  async benchGenerate(batch: number, maxTokens: number, repeats: number) {
    const z = samplePrior(batch, text().latentSize, 1);
    await text().generate({ z, maxTokens });
    const times: number[] = [];
    let tokens = 0;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const gens = await text().generate({ z, maxTokens });
      times.push(performance.now() - t0);
      tokens = gens.reduce((s, g) => s + g.tokenIds.length, 0);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)]!, tokens };
  },
};
(globalThis as unknown as { vaekitDemo: typeof demo }).vaekitDemo = demo;

// Opens working: load at once, on the requested backends or the best available.
const requested = new URLSearchParams(location.search).get('backend') ?? 'auto';
const select = $<HTMLSelectElement>('backend');
if (![...select.options].some((o) => o.value === requested)) select.add(new Option(requested.split(',').join(', then '), requested));
select.value = requested;
await run('load', () => load(requested));
demo.ready = true;
