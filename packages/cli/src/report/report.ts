/**
 * `vaekit report`: one self-contained HTML file per run (inline SVG charts, PNG data URIs, inline
 * CSS; no script, no network), written atomically so a browser never sees half a report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeOutput } from '../shared/output.js';
import { lineChartSvg, scatterChartSvg } from './charts.js';
import { modelReport, type ModelReport, type ModelReportOptions } from './model.js';
import { linePoints, metricGroups, metricTitle, readRun, type RunData } from './run.js';

import { REPORT_FILE } from './file.js';

export { REPORT_FILE };

/** Options of {@link writeReport}. */
export interface ReportOptions extends ModelReportOptions {
  /** Output file (default `RUN/report.html`). */
  out?: string;
  /** Skip the model part (curves and tables only): quick, needs no checkpoint. */
  curvesOnly?: boolean;
}

/** What {@link writeReport} wrote. */
export interface ReportResult {
  file: string;
  /** Metric names charted, in order. */
  charts: string[];
  epochs: number;
  /** Whether samples, reconstructions and the latent map are in it. */
  model: boolean;
  notes: string[];
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)) : typeof v === 'object' ? JSON.stringify(v) : String(v));

function table(head: string[], body: unknown[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c) => `<td>${esc(fmt(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The last epoch's metrics as a table: one row per split, one column per metric. */
function finalTable(run: RunData): string {
  const last = run.epochs[run.epochs.length - 1];
  if (!last) return '';
  const splits = Object.entries(last).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v)) as Array<[string, Record<string, unknown>]>;
  const cols = [...new Set(splits.flatMap(([, v]) => Object.keys(v).filter((k) => typeof v[k] === 'number')))];
  return table(['split', ...cols], splits.map(([name, v]) => [name, ...cols.map((c) => (v[c] === undefined ? '' : v[c]))]));
}

function configTable(config: Record<string, unknown>): string {
  const flat: Array<[string, unknown]> = [];
  const walk = (v: unknown, p: string) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, w] of Object.entries(v)) walk(w, p ? `${p}.${k}` : k);
    else flat.push([p, Array.isArray(v) ? v.join(', ') : v]);
  };
  walk(config, '');
  return table(['setting', 'value'], flat, 'config');
}

async function evalTables(runDir: string): Promise<string> {
  let parsed: { vae?: { data?: string; metrics?: Record<string, unknown> }; baseline?: { data?: string; metrics?: Record<string, unknown> } };
  try {
    parsed = JSON.parse(await fs.readFile(path.join(runDir, 'eval.json'), 'utf8'));
  } catch {
    return '';
  }
  const rows = (['vae', 'baseline'] as const).filter((k) => parsed[k]?.metrics).map((k) => [k === 'vae' ? 'VAE' : 'LM baseline', parsed[k]!] as const);
  if (rows.length === 0) return '';
  const cols = [...new Set(rows.flatMap(([, r]) => Object.keys(r.metrics!).filter((c) => typeof r.metrics![c] === 'number')))];
  return `<h2>Evaluation (<code>eval.json</code>)</h2><p class="muted">${esc(rows[0]![1].data ?? '')}</p>${table(['model', ...cols], rows.map(([name, r]) => [name, ...cols.map((c) => r.metrics![c] ?? '')]))}`;
}

function modelSection(m: ModelReport): string {
  const parts: string[] = [];
  if (m.images) {
    parts.push(
      `<h2>Samples from the prior</h2><p class="muted">${m.images.counts.samples} decodes of z ~ N(0, I).</p><img class="pix" alt="prior samples" src="${m.images.samples}">`,
      `<h2>Reconstructions</h2><p class="muted">Top: ${m.images.counts.reconstructions} held-out digits. Bottom: decodes of their posterior means.</p><img class="pix" alt="reconstructions" src="${m.images.reconstructions}">`,
      `<h2>Interpolation</h2><p class="muted">${m.images.counts.interpolation} decodes along the line between the posterior means of two held-out digits.</p><img class="pix" alt="interpolation" src="${m.images.interpolation}">`,
    );
  }
  if (m.text) {
    const list = (items: string[]) => `<ol class="sentences">${items.map((s) => `<li>${esc(s || '(empty)')}</li>`).join('')}</ol>`;
    parts.push(`<h2>Sentences from the prior</h2><div class="cols"><div><h3>greedy</h3>${list(m.text.greedy)}</div><div><h3>sampled (T = 1)</h3>${list(m.text.sampled)}</div></div>`);
    if (m.text.reconstructions.length > 0) {
      parts.push(`<h2>Reconstructions</h2><p class="muted">Held-out sentences and the greedy decode of their posterior mean.</p>${table(['input', 'reconstruction'], m.text.reconstructions.map((r) => [r.input, r.output]), 'sentences')}`);
    }
    if (m.text.interpolation) {
      const it = m.text.interpolation;
      parts.push(`<h2>Interpolation</h2><p class="muted">From “${esc(it.from)}” to “${esc(it.to)}”.</p>${list(it.steps)}`);
    }
  }
  return parts.join('\n');
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;max-width:72rem;margin:0 auto;padding:1rem 1.25rem 3rem;background:#fafbfc}
h1{font-size:1.6rem;margin:.5rem 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #e3e6ea;padding-bottom:.25rem}h3{font-size:.95rem;margin:.25rem 0}
.muted{color:#5b6472;margin:.25rem 0 .75rem}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:.5rem;overflow-x:auto}figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.5rem 0}th,td{border:1px solid #e3e6ea;padding:.25rem .6rem;text-align:left}th{background:#f1f3f5}
td{font-variant-numeric:tabular-nums}.config td:first-child{font-family:ui-monospace,monospace}.sentences td,.sentences li{font-family:ui-monospace,monospace}
img.pix{image-rendering:pixelated;max-width:100%;border-radius:6px}.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
details{margin:1rem 0}code{background:#eef0f3;padding:0 .25rem;border-radius:3px}
@media (max-width:40rem){body{padding:.5rem}.grid{grid-template-columns:1fr}}
`;

/**
 * Builds the report of the run in `runDir` and writes it atomically to `options.out` (default
 * `RUN/report.html`). Curves come from `metrics.jsonl`; samples, reconstructions, interpolation and
 * the latent map from the newest checkpoint (skipped, with a note, when there is none yet).
 */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const run = await readRun(runDir);
  const kind = String(run.config.kind ?? 'image');
  const notes: string[] = [];
  const groups = metricGroups(run);
  const charts = await Promise.all(
    groups.map(async (g) => `<figure data-metric="${esc(g.metric)}">${await lineChartSvg(linePoints(run, g.series), { title: metricTitle(g.metric) })}</figure>`),
  );
  let model: ModelReport | undefined;
  if (!options.curvesOnly) {
    try {
      model = await modelReport(runDir, kind, options);
    } catch (err) {
      notes.push(`No samples or latent map: ${(err as Error).message.split('\n')[0]}`);
    }
    if (model) notes.push(...model.notes);
  }
  let map = '';
  if (model?.map && model.map.points.length > 0) {
    const m = model.map;
    const svg = await scatterChartSvg(m.points, {
      title: `Latent map: ${m.points.length} held-out posterior means`,
      xTitle: `PC 1 (${(m.explained[0] * 100).toFixed(0)}% of variance)`,
      yTitle: `PC 2 (${(m.explained[1] * 100).toFixed(0)}% of variance)`,
      width: 420,
      height: 360,
    });
    map = `<h2>Latent space</h2><p class="muted">PCA of the ${m.latent}-dimensional posterior means of held-out ${kind === 'image' ? 'digits, coloured by label' : 'sentences'}.</p><figure data-chart="latent-map">${svg}</figure>`;
  }
  const title = `${kind} VAE report: ${path.basename(path.resolve(runDir))}`;
  const last = run.epochs[run.epochs.length - 1];
  const seconds = run.epochs.reduce((s, e) => s + (typeof e.seconds === 'number' ? e.seconds : 0), 0);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="muted">${run.epochs.length} epoch${run.epochs.length === 1 ? '' : 's'}${last ? ` (last: ${last.epoch})` : ''}, ${seconds < 10 ? seconds.toFixed(1) : seconds.toFixed(0)} s of training · written ${esc(new Date().toISOString().replace('T', ' ').slice(0, 19))} UTC by <code>vaekit report</code></p>
${notes.map((n) => `<p class="muted">Note: ${esc(n)}</p>`).join('\n')}
<h2>Training curves</h2>
${charts.length > 0 ? `<div class="grid">${charts.join('\n')}</div>` : '<p class="muted">No epoch has finished yet.</p>'}
${last ? `<h2>Last epoch</h2>${finalTable(run)}` : ''}
${await evalTables(runDir)}
${model ? modelSection(model) : ''}
${map}
<details><summary>Configuration</summary>${configTable(run.config)}</details>
</body></html>
`;
  const file = options.out ?? path.join(runDir, REPORT_FILE);
  await writeOutput(file, html);
  return { file, charts: groups.map((g) => g.metric), epochs: run.epochs.length, model: Boolean(model), notes };
}
