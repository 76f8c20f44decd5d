/**
 * Text runs: evaluation with progress, and the report as text. Loads the trainer: import this module
 * inside an action.
 */
import path from 'node:path';
import { readRunTokenizer, writeFileAtomic } from '@vaekit/core/node';
import { evaluateTextRun, evaluateTextSampleQuality, type TextEvalMetrics, type TextRunReport, type TextSampleQuality } from '@vaekit/trainer';
import { UsageError } from '../errors.js';
import { createProgress, type Progress } from './progress.js';

/** Name of the evaluation report written into a run folder. */
export const EVAL_FILE = 'eval.json';

/** Two decimals, or `-` for a metric that was not computed. */
export const f2 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));

/** One line per metric, VAE and (optionally) baseline side by side. */
export function metricsTable(vae: TextEvalMetrics, baseline?: TextEvalMetrics, label = 'VAE'): string {
  const rows: Array<[string, string, string]> = [
    ['sentences', String(vae.sentences), baseline ? String(baseline.sentences) : ''],
    ['-ELBO (nats/sentence)', f2(vae.elbo), baseline ? `${f2(baseline.elbo)} (exact NLL)` : ''],
    ['  reconstruction', f2(vae.reconstruction), baseline ? f2(baseline.reconstruction) : ''],
    ['  KL', f2(vae.kl), baseline ? '0' : ''],
    [`IW-NLL (K=${vae.k ?? '-'})`, f2(vae.iwNll), baseline ? f2(baseline.elbo) : ''],
    [`perplexity (${vae.pplBound} bound)`, f2(vae.ppl), baseline ? `${f2(baseline.ppl)} (exact)` : ''],
    ['mutual information I_q', f2(vae.mi), ''],
    ['active units', vae.au === undefined ? '-' : String(vae.au), ''],
  ];
  const header: [string, string, string] = ['metric', label, baseline ? 'LM baseline' : ''];
  const all = [header, ...rows];
  const w0 = Math.max(...all.map((r) => r[0].length));
  const w1 = Math.max(...all.map((r) => r[1].length));
  return all.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`.trimEnd()).join('\n');
}

/** The sample-quality metrics of a text run, one per line. */
export function sampleQualityTable(q: TextSampleQuality): string {
  const rows: Array<[string, string]> = [
    ['prior samples', String(q.samples)],
    ['forward perplexity (baseline LM on samples)', q.forwardPpl === undefined ? '- (needs --baseline)' : f2(q.forwardPpl)],
    [`reverse perplexity (LM on samples, ${q.reverseEpochs} epochs, on ${q.reverseTestSentences} test sentences)`, f2(q.reversePpl)],
    ['distinct-1', q.distinct1.toFixed(3)],
    ['distinct-2', q.distinct2.toFixed(3)],
    [`self-BLEU (${q.selfBleuSamples} samples)`, f2(q.selfBleu)],
    ['mean sample length (words)', f2(q.meanLength)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return ['Sample quality:', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

/** The samples, reconstructions and interpolation of a report, as lines. */
export function qualitativeText(report: TextRunReport): string {
  const q = report.qualitative;
  if (!q) return '';
  const lines = ['', 'Prior samples (greedy):', ...q.priorGreedy.map((s) => `  ${s}`), 'Prior samples (sampled, T=1):', ...q.priorSampled.map((s) => `  ${s}`)];
  lines.push('Reconstructions (greedy from the posterior mean):');
  for (const r of q.reconstructions) lines.push(`  in:  ${r.input}`, `  out: ${r.output}`);
  lines.push(`Interpolation: "${q.interpolation.from}" -> "${q.interpolation.to}"`, ...q.interpolation.steps.map((s, i) => `  ${i}: ${s}`));
  return lines.join('\n');
}

/** Evaluates a run (and its baseline) with an evaluation progress bar; writes RUN/eval.json. */
export async function evaluateWithProgress(
  runDir: string,
  options: {
    data?: string;
    k: number;
    limit: number;
    examples?: number;
    baseline?: string;
    quiet?: boolean;
    onStart?: () => void;
    /** Also measure prior samples (forward perplexity under `baseline`, reverse perplexity, distinct-n, self-BLEU). */
    sampleQuality?: { samples: number; seed: number; reverseEpochs: number; log?: (line: string) => void };
  },
): Promise<{ vae: TextRunReport; baseline?: TextRunReport; sampleQuality?: TextSampleQuality }> {
  const run = async (dir: string, label: string) => {
    let bar: Progress | undefined;
    const report = await evaluateTextRun(dir, {
      k: options.k,
      limit: options.limit,
      ...(options.examples !== undefined ? { examples: options.examples } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}),
      onProgress: (done, total) => {
        if (!bar) options.onStart?.();
        bar ??= createProgress(`eval ${label}`, total, { quiet: options.quiet });
        bar.update(done);
      },
    });
    bar?.stop();
    return report;
  };
  if (options.baseline) {
    const [a, b] = await Promise.all([readRunTokenizer(runDir), readRunTokenizer(options.baseline)]);
    if (a.vocabulary.join('\n') !== b.vocabulary.join('\n')) {
      throw new UsageError(`--baseline ${options.baseline} has another vocabulary than ${runDir}; train both on the same data and settings.`);
    }
  }
  const vae = await run(runDir, path.basename(runDir));
  const baseline = options.baseline ? await run(options.baseline, path.basename(options.baseline)) : undefined;
  const sq = options.sampleQuality;
  const sampleQuality = sq
    ? await evaluateTextSampleQuality(runDir, { samples: sq.samples, seed: sq.seed, reverseEpochs: sq.reverseEpochs, ...(options.baseline ? { baseline: options.baseline } : {}), ...(sq.log ? { log: sq.log } : {}) })
    : undefined;
  const report = { vae, ...(baseline ? { baseline } : {}), ...(sampleQuality ? { sampleQuality } : {}) };
  await writeFileAtomic(path.join(runDir, EVAL_FILE), JSON.stringify(report, null, 2) + '\n');
  return report;
}

