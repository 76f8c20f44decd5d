/**
 * Reading a run folder for reports: its configuration and the per-epoch metrics of `metrics.jsonl`,
 * flattened into named series (`train.elbo`, `valid.mi`, ...) whatever the model kind writes.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE, METRICS_FILE } from '@vaekit/core';
import { UsageError } from '../errors.js';

/** Fields of a metrics line that are bookkeeping, not curves. */
const NOT_CURVES = new Set(['epoch', 'seconds', 'sentences', 'tokens', 'k', 'encoderSteps', 'skippedBatches', 'aggressive', 'examples', 'count']);

/** Names people know a metric by, for chart titles. */
const TITLES: Record<string, string> = {
  elbo: 'Negative ELBO (nats)',
  loss: 'Training loss (annealed, as minimised)',
  reconstruction: 'Reconstruction (nats)',
  kl: 'KL divergence (nats)',
  klWeight: 'KL weight',
  mi: 'Mutual information I_q (nats)',
  au: 'Active units',
  ppl: 'Perplexity (upper bound)',
  iwNll: 'Importance-weighted NLL (nats)',
  accuracy: 'Accuracy',
  f1: 'F1',
  macroF1: 'Macro F1',
  bleu: 'BLEU',
  chrf: 'chrF',
};

/** Preferred order of the curves in a report; others follow alphabetically. */
const ORDER = ['elbo', 'loss', 'reconstruction', 'kl', 'klWeight', 'mi', 'au', 'ppl', 'iwNll', 'accuracy', 'f1', 'macroF1', 'bleu', 'chrf'];

/** Splits in the order their lines are drawn and listed. */
const SPLIT_ORDER = ['train', 'valid', 'test'];

const splitOf = (name: string) => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name);
function splitRank(name: string): number {
  const i = SPLIT_ORDER.indexOf(splitOf(name));
  return i < 0 ? SPLIT_ORDER.length : i;
}

/** A run folder's contents as a report reads them. */
export interface RunData {
  dir: string;
  config: Record<string, unknown> & { kind?: string };
  /** The metrics lines in epoch order (a resumed run's repeated epochs: the last line wins). */
  epochs: Array<Record<string, unknown> & { epoch: number }>;
  /** Flattened series: `split.metric` -> value per epoch (NaN where absent). */
  series: Map<string, Array<{ epoch: number; value: number }>>;
}

/** Title of a metric, by its last name part (`valid.mi` -> mutual information). */
export function metricTitle(metric: string): string {
  const name = metric.split('.').pop()!;
  return TITLES[name] ?? name;
}

function flatten(value: unknown, prefix: string, out: Map<string, number>): void {
  if (typeof value === 'number' && Number.isFinite(value)) out.set(prefix, value);
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) if (!NOT_CURVES.has(k)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  }
}

/** Reads `config.json` and `metrics.jsonl` of `dir`; a folder that is not a run is a usage error. */
export async function readRun(dir: string): Promise<RunData> {
  let config: RunData['config'];
  try {
    config = JSON.parse(await fs.readFile(path.join(dir, CONFIG_FILE), 'utf8')) as RunData['config'];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' || code === 'ENOTDIR' ? `${dir} is not a run folder (no ${CONFIG_FILE}); expected a folder made by vaekit train.` : `${path.join(dir, CONFIG_FILE)} is not valid JSON.`);
  }
  let text = '';
  try {
    text = await fs.readFile(path.join(dir, METRICS_FILE), 'utf8');
  } catch {
    // A run stopped before its first epoch has no metrics yet: the report says so.
  }
  const byEpoch = new Map<number, RunData['epochs'][number]>();
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // The last line of a run being written may be partial; any other bad line is corruption.
      if (i >= text.trimEnd().split('\n').length - 1) continue;
      throw new UsageError(`${path.join(dir, METRICS_FILE)} line ${i + 1} is not valid JSON.`);
    }
    const epoch = (parsed as { epoch?: unknown }).epoch;
    if (typeof epoch === 'number') byEpoch.set(epoch, parsed as RunData['epochs'][number]);
  }
  const epochs = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  const flat = epochs.map((e) => {
    const m = new Map<string, number>();
    flatten(e, '', m);
    return m;
  });
  const names = new Set(flat.flatMap((m) => [...m.keys()]));
  const series = new Map<string, Array<{ epoch: number; value: number }>>();
  for (const name of names) series.set(name, epochs.map((e, i) => ({ epoch: e.epoch, value: flat[i]!.get(name) ?? Number.NaN })));
  return { dir, config, epochs, series };
}

/** Metric names (last name part), in report order, each with the series that carry it (`train.elbo`, `test.elbo`). */
export function metricGroups(run: RunData): Array<{ metric: string; series: string[] }> {
  const groups = new Map<string, string[]>();
  for (const name of run.series.keys()) {
    const metric = name.split('.').pop()!;
    groups.set(metric, [...(groups.get(metric) ?? []), name]);
  }
  const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([metric, series]) => ({ metric, series: series.sort((a, b) => splitRank(a) - splitRank(b) || a.localeCompare(b)) }));
}

/**
 * The series a `--metric` name selects: a metric name (`elbo`: every split's) or one series
 * (`valid.elbo`). Throws a usage error listing the accepted names.
 */
export function selectSeries(run: RunData, metric: string): string[] {
  if (run.series.has(metric)) return [metric];
  const group = metricGroups(run).find((g) => g.metric === metric);
  if (group) return group.series;
  const accepted = [...metricGroups(run).map((g) => g.metric), ...run.series.keys()];
  if (accepted.length === 0) throw new UsageError(`${run.dir} has no metrics yet (${METRICS_FILE} is empty or missing).`);
  throw new UsageError(`Unknown metric "${metric}" for ${run.dir}. Should be one of: ${accepted.join(', ')}.`);
}

/** Points of the line chart of `names`: one line per series, labelled by its split (`train`, `valid`). */
export function linePoints(run: RunData, names: string[]): Array<{ x: number; y: number; series: string }> {
  return [...names].sort((a, b) => splitRank(a) - splitRank(b) || a.localeCompare(b)).flatMap((name) =>
    (run.series.get(name) ?? []).filter((p) => Number.isFinite(p.value)).map((p) => ({ x: p.epoch, y: p.value, series: splitOf(name) })),
  );
}
