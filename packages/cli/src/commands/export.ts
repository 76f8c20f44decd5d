/** `vaekit export`: a run folder to an ONNX bundle. */
import type { Command } from 'commander';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, exportBundle } from '@vaekit/exporter';
import { intIn } from '../options.js';
import { printJson } from '../output.js';

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Registers `vaekit export`. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export the newest checkpoint of a run folder as an ONNX bundle (encoder.onnx, decoder.onnx, manifest.json), checked against tfjs')
    .argument('<run-dir>', 'run folder made by vaekit train')
    .argument('<bundle-dir>', 'bundle folder to write (replaced atomically if it exists)')
    .option('--opset <n>', `ONNX opset (${MIN_OPSET} to ${MAX_OPSET})`, intIn(MIN_OPSET, MAX_OPSET), DEFAULT_OPSET)
    .option('--json', 'print the export summary as JSON')
    .action(async (runDir: string, bundleDir: string, opts: { opset: number; json?: boolean }) => {
      const result = await exportBundle(runDir, bundleDir, {
        opset: opts.opset,
        onProgress: opts.json ? undefined : (e) => process.stderr.write(`${e.message}\n`),
      });
      if (opts.json) {
        printJson({ bundleDir: result.bundleDir, opset: result.opset, irVersion: result.irVersion, files: result.files, parity: result.parity });
        return;
      }
      const lines = [`Wrote bundle ${result.bundleDir} (opset ${result.opset}, IR ${result.irVersion}):`];
      for (const f of result.files) lines.push(`  ${f.path.padEnd(14)} ${kb(f.bytes).padStart(11)}  sha256 ${f.sha256.slice(0, 16)}…`);
      for (const [graph, report] of Object.entries(result.parity)) {
        const errs = Object.entries(report.maxAbsError).map(([name, v]) => `${name} ${v.toExponential(2)}`).join(', ');
        lines.push(`  parity ${graph}: max abs error vs tfjs ${errs} (tolerance ${report.tolerance}, batch ${report.batch})`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
