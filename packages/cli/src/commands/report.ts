/**
 * `vaekit report RUN` and `vaekit plot RUN --metric NAME --out FILE`. The chart and model code
 * (vega, tfjs, resvg) is imported inside the actions, so other commands never load it.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { assertFolderTarget } from '../shared/output.js';
import { intIn, positiveInt } from '../shared/options.js';

/** Formats `vaekit plot` writes, by file extension. */
export const PLOT_FORMATS = ['.svg', '.png'] as const;

/** Registers `vaekit report`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML report of a run: curves, samples, reconstructions, interpolation, latent map, tables')
    .argument('<run>', 'run folder made by vaekit train')
    .option('--out <file>', 'HTML file to write (default: RUN/report.html)')
    .option('--curves-only', 'curves and tables only (no checkpoint needed, quick)')
    .option('--map-limit <n>', 'held-out examples in the latent map', positiveInt(100_000))
    .option('--seed <s>', 'seed of the prior samples (default: the run seed)', intIn(0, 2 ** 31 - 1))
    .action(async (runDir: string, opts: { out?: string; curvesOnly?: boolean; mapLimit?: number; seed?: number }) => {
      if (opts.out && path.extname(opts.out).toLowerCase() !== '.html') throw new UsageError(`--out ${opts.out}: expected a .html file name.`);
      const { writeReport } = await import('../report/report.js');
      const r = await writeReport(runDir, {
        ...(opts.out ? { out: opts.out } : {}),
        ...(opts.curvesOnly ? { curvesOnly: true } : {}),
        ...(opts.mapLimit ? { mapLimit: opts.mapLimit } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      process.stdout.write(`Report of ${r.epochs} epoch${r.epochs === 1 ? '' : 's'} (${r.charts.length} charts${r.model ? ', samples and latent map' : ''}): ${r.file}\n`);
    });
}

/** Registers `vaekit plot`. */
export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description('draw one training curve of a run as SVG or PNG (for READMEs and papers)')
    .argument('<run>', 'run folder made by vaekit train')
    .requiredOption('--metric <name>', 'a metric (elbo: every split) or one series (valid.elbo); a wrong name lists them')
    .requiredOption('--out <file>', 'file to write: .svg or .png')
    .option('--width <px>', 'PNG width in pixels', intIn(64, 8192), 1200)
    .action(async (runDir: string, opts: { metric: string; out: string; width: number }) => {
      const ext = path.extname(opts.out).toLowerCase();
      if (!(PLOT_FORMATS as readonly string[]).includes(ext)) {
        throw new UsageError(`--out ${opts.out}: unsupported format "${ext || '(none)'}". Should be one of: ${PLOT_FORMATS.join(', ')}.`);
      }
      await assertFolderTarget(path.dirname(path.resolve(opts.out)), '--out');
      const { readRun, selectSeries, linePoints, metricTitle } = await import('../report/run.js');
      const run = await readRun(runDir);
      const names = selectSeries(run, opts.metric);
      const { lineChartSvg, svgToPng } = await import('../report/charts.js');
      const svg = await lineChartSvg(linePoints(run, names), { title: metricTitle(opts.metric), width: 480, height: 260 });
      const { writeOutput } = await import('../shared/output.js');
      await writeOutput(opts.out, ext === '.svg' ? svg : await svgToPng(svg, opts.width));
      process.stdout.write(`Plotted ${names.join(', ')} over ${run.epochs.length} epochs: ${opts.out}\n`);
    });
}
