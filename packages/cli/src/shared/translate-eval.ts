/**
 * `vaekit eval` of a translation run: BLEU (greedy and beam), chrF, KL, active units and sample
 * diversity on the test split, written to RUN/eval.json. Loads the trainer: import inside an action.
 */
import path from 'node:path';
import { writeFileAtomic } from '@vaekit/core/node';
import { evaluateTranslateRun, type TranslateEvalReport } from '@vaekit/trainer';

/** Runs the evaluation, writes `eval.json` into the run folder and returns the report. */
export async function evaluateTranslation(
  runDir: string,
  options: { limit: number; beamWidth: number; samples: number; diversityPairs: number; data?: string; log: (line: string) => void },
): Promise<TranslateEvalReport & { runDir: string; seconds: number }> {
  const started = performance.now();
  const report = await evaluateTranslateRun(runDir, {
    limit: options.limit,
    beamWidth: options.beamWidth,
    samples: options.samples,
    diversityPairs: options.diversityPairs,
    ...(options.data ? { data: options.data } : {}),
    onProgress: (stage) => options.log(`${stage} done (${((performance.now() - started) / 1000).toFixed(0)}s)`),
  });
  const full = { runDir, ...report, seconds: (performance.now() - started) / 1000 };
  await writeFileAtomic(path.join(runDir, 'eval.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** The report as lines for the terminal. */
export function translationReportText(r: TranslateEvalReport): string {
  const s = r.scores;
  const h = r.heldOut;
  const f = (v: number | undefined, d = 2) => (v === undefined ? '-' : v.toFixed(d));
  const lines = [
    `${r.split} split: ${s.pairs} pairs`,
    `BLEU greedy           ${f(s.bleuGreedy)}`,
    `BLEU beam ${s.beamWidth ?? '-'}           ${f(s.bleuBeam)}`,
    `chrF                  ${f(s.chrf)}`,
    `KL(z) nats/sentence   ${f(h.kl, 3)}${h.au !== undefined ? `  (active units ${h.au})` : ''}`,
    `KL(attention)         ${f(h.klAttention, 3)}`,
    `NLL bound (nats)      ${f(h.loss)}  ppl ${f(h.ppl)}`,
    ...(s.diversity ? [`diversity of ${s.diversity.samples} samples: distinct-1 ${f(s.diversity.distinct1, 3)}, distinct-2 ${f(s.diversity.distinct2, 3)}, self-BLEU ${f(s.diversity.selfBleu)}`] : []),
    `BLEU: ${s.bleuSignature}`,
    '',
    ...s.examples.flatMap((e) => [`  ${e.source}`, `    ref: ${e.reference}`, `    hyp: ${e.translation}`]),
  ];
  return lines.join('\n');
}
