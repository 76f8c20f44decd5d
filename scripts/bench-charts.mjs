#!/usr/bin/env node
// Draws the benchmark tables of bench/results/*.json as SVG charts (vega-lite through the CLI's chart
// module, so build first: npx tsc -b) into docs/img/ or the folder given as the first argument.
// Prints one line per chart written. A results file that is missing is skipped with a note.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'docs', 'img'));
const { barChartSvg, lineChartSvg } = await import(path.join(root, 'packages', 'cli', 'dist', 'report', 'charts.js'));
const results = (name) => {
  const file = path.join(root, 'bench', 'results', `${name}.json`);
  if (!existsSync(file)) {
    console.error(`note: ${path.relative(root, file)} is missing; its chart is skipped`);
    return undefined;
  }
  return JSON.parse(readFileSync(file, 'utf8'));
};

const charts = [];
const train = results('train');
if (train) {
  const rows = train.rows.filter((r) => r.default);
  charts.push(['bench-train.svg', barChartSvg(
    rows.flatMap((r) => [
      { category: r.config, group: `vaekit (${r.backend})`, value: r.vaekit_ms },
      { category: r.config, group: 'PyTorch', value: r.pytorch_ms },
    ]),
    { title: 'Training: ms per optimizer step (lower is better)', yTitle: 'ms per step' },
  )]);
}
const gen = results('generate');
if (gen) {
  charts.push(['bench-generate.svg', barChartSvg(
    gen.rows.map((r) => ({ category: `batch ${r.batch}`, group: r.backend, value: r.tokensPerSecond })),
    { title: 'Text generation: tokens per second (higher is better)', yTitle: 'tokens / s', width: 420 },
  )]);
}
const img = results('image-inference');
if (img) {
  charts.push(['bench-image-inference.svg', barChartSvg(
    img.rows.flatMap((r) => [
      { category: `${r.graph} ×${r.batch}`, group: 'vaekit (ONNX Runtime)', value: r.vaekit_ort_ms },
      { category: `${r.graph} ×${r.batch}`, group: 'tfjs', value: r.tfjs_ms },
    ]),
    { title: 'Image VAE inference: ms per call (lower is better)', yTitle: 'ms per call', width: 420 },
  )]);
}
const sotu = results('sotu');
if (sotu) {
  charts.push(['bench-sotu.svg', lineChartSvg(
    [
      ...sotu.per_epoch.map((e) => ({ x: e.epoch, y: e.valid_elbo, series: 'VAE: valid −ELBO' })),
      ...sotu.lm_per_epoch.map((e) => ({ x: e.epoch, y: e.valid_nll, series: 'LM baseline: valid NLL' })),
    ],
    { title: 'State of the Union sentences: nats per sentence (lower is better)', yTitle: 'nats per sentence', width: 420 },
  )]);
}

mkdirSync(out, { recursive: true });
for (const [name, svg] of charts) {
  const file = path.join(out, name);
  writeFileSync(`${file}.tmp`, await svg);
  renameSync(`${file}.tmp`, file);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
