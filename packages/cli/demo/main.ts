/**
 * The demo page: loads the bundle served at `bundle/` with @vaekit/runtime's browser build and lets a
 * person sample, reconstruct and interpolate. `window.vaekitDemo` exposes the loaded model to the
 * end-to-end test. Query `?backend=webgpu&autoload=1` picks the backend and loads at once.
 */
import { configureWasm, interpolateLatent, loadVae, samplePrior, type BackendName, type Generation, type Vae } from '@vaekit/runtime';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
let vae: Vae | undefined;

// The server exposes onnxruntime-web's .wasm files here; threads need a cross-origin isolated page.
configureWasm({ wasmPaths: new URL('ort/', location.href).href, numThreads: globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1 });

function show(message: string, error = false): void {
  status.textContent = message;
  status.className = error ? 'error' : '';
}

function list(id: string, gens: Generation[]): void {
  const ol = $(id);
  ol.replaceChildren(...gens.map((g) => Object.assign(document.createElement('li'), { textContent: g.text || '(empty)' })));
}

async function run(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    show(`${what}...`);
    const t0 = performance.now();
    await fn();
    show(`${describe()}\n${what}: ${(performance.now() - t0).toFixed(0)} ms`);
  } catch (err) {
    show(`${what} failed: ${(err as Error).message}`, true);
  }
}

function describe(): string {
  return vae ? `${vae.kind} bundle on ${vae.backend} (graphs: ${vae.variant}, latent ${vae.latentSize}, threads ${globalThis.crossOriginIsolated ? 'on' : 'off'})` : 'not loaded';
}

async function load(): Promise<void> {
  const choice = ($<HTMLSelectElement>('backend')).value.split(',') as BackendName[];
  await vae?.dispose();
  vae = undefined;
  const t0 = performance.now();
  vae = await loadVae(new URL('bundle/', location.href), {
    backend: choice.length === 1 ? choice[0]! : choice,
    onProgress: (e) => {
      if (e.stage === 'download' && e.total) show(`loading ${e.file}${e.fromCache ? ' (cached)' : ''}: ${Math.round((100 * e.loaded!) / e.total)}% of ${(e.total / 1024).toFixed(0)} KiB`);
    },
  });
  demo.loadMs = performance.now() - t0;
  $('text').hidden = vae.kind !== 'text';
  $('image').hidden = vae.kind !== 'image';
  demo.vae = vae;
}

function text() {
  if (vae?.kind !== 'text') throw new Error('Load a text bundle first.');
  return vae;
}
function image() {
  if (vae?.kind !== 'image') throw new Error('Load an image bundle first.');
  return vae;
}

function drawImages(canvas: HTMLCanvasElement, images: Float32Array[], columns: number): void {
  const [h, w, c] = image().imageShape;
  const rows = Math.ceil(images.length / columns);
  canvas.width = columns * w;
  canvas.height = rows * h;
  canvas.style.width = `${columns * w * 3}px`;
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

const num = (id: string) => Number(($<HTMLInputElement>(id)).value);

$('load').onclick = () => run('load', load);
$('sample').onclick = () =>
  run('sample', async () => {
    const strategy = ($<HTMLSelectElement>('strategy')).value as 'greedy' | 'sample' | 'beam';
    list('samples', await text().generate({ n: num('n'), seed: num('seed'), strategy, temperature: num('temperature'), topP: num('topP'), maxTokens: 40 }));
  });
$('reconstruct').onclick = () => run('reconstruct', async () => list('reconstruction', await text().reconstruct(($<HTMLInputElement>('sentence')).value, { maxTokens: 40 })));
$('interpolate').onclick = () =>
  run('interpolate', async () =>
    list('interpolation', await text().interpolate(($<HTMLInputElement>('a')).value, ($<HTMLInputElement>('b')).value, { steps: num('steps'), maxTokens: 40 })),
  );
$('imageSample').onclick = () => run('sample', async () => drawImages($<HTMLCanvasElement>('grid'), (await image().sample(64, { seed: num('imageSeed') })).images, 8));
$('imageInterpolate').onclick = () =>
  run('interpolate', async () => {
    const [a, b] = samplePrior(2, image().latentSize, num('imageSeed') + 1);
    drawImages($<HTMLCanvasElement>('strip'), await image().decode(interpolateLatent(a!, b!, 10, 'slerp')), 10);
  });

/** What the end-to-end test drives: the loaded model, plain arrays in and out. */
const demo = {
  vae: undefined as Vae | undefined,
  loadMs: 0,
  ready: false,
  async generate(z: number[][], options: Record<string, unknown> = {}) {
    const gens = await text().generate({ ...options, z: z.map((v) => Float32Array.from(v)) });
    return gens.map((g) => ({ text: g.text, tokenIds: g.tokenIds, logprobs: g.logprobs }));
  },
  async encode(sentences: string[]) {
    const { mu, logvar } = await text().encode(sentences);
    return { mu: mu.map((v) => Array.from(v)), logvar: logvar.map((v) => Array.from(v)) };
  },
  async decode(z: number[][]) {
    return (await image().decode(z.map((v) => Float32Array.from(v)))).map((v) => Array.from(v));
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

const params = new URLSearchParams(location.search);
const requested = params.get('backend');
if (requested) {
  const select = $<HTMLSelectElement>('backend');
  if (![...select.options].some((o) => o.value === requested)) select.add(new Option(requested.split(',').join(', then '), requested));
  select.value = requested;
}
if (params.has('autoload')) await run('load', load);
demo.ready = true;
