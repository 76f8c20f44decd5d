/** `vaekit export`: a run folder to an ONNX bundle. */
import type { Command } from 'commander';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, exportBundle, exportModelFile } from '@vaekit/exporter';
import { intIn } from '../options.js';
import { printJson } from '../output.js';

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Registers `vaekit export`. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      'export the newest checkpoint of a run folder as an ONNX bundle, checked against tfjs (image: encoder.onnx, decoder.onnx; text: encoder.onnx, decoder_init.onnx, decoder_step.onnx, tokenizer.json; and manifest.json)',
    )
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
      for (const f of result.files) lines.push(`  ${f.path.padEnd(18)} ${kb(f.bytes).padStart(11)}  sha256 ${f.sha256.slice(0, 16)}…`);
      for (const [graph, report] of Object.entries(result.parity)) {
        const errs = Object.entries(report.maxAbsError).map(([name, v]) => `${name} ${v.toExponential(2)}`).join(', ');
        lines.push(`  parity ${graph}: max abs error vs tfjs ${errs} (tolerance ${report.tolerance}, batch ${report.batch})`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}

/** Registers `vaekit export-model`: any tfjs layers model.json to one .onnx file. */
export function registerExportModel(program: Command): void {
  program
    .command('export-model')
    .description('convert any tfjs layers model (model.json + weight files) to one .onnx file, checked against tfjs')
    .argument('<model-json>', 'tfjs layers model.json (weight files next to it)')
    .argument('<out-onnx>', '.onnx file to write (written atomically)')
    .option('--opset <n>', `ONNX opset (${MIN_OPSET} to ${MAX_OPSET})`, intIn(MIN_OPSET, MAX_OPSET), DEFAULT_OPSET)
    .option('--no-parity', 'skip the parity check (needed when inputs have dynamic non-batch dimensions)')
    .option('--json', 'print the summary as JSON')
    .action(async (modelJson: string, outFile: string, opts: { opset: number; parity: boolean; json?: boolean }) => {
      const r = await exportModelFile(modelJson, outFile, { opset: opts.opset, parity: opts.parity });
      const summary = {
        outFile: r.outFile,
        bytes: r.bytes,
        opset: r.result.opset,
        irVersion: r.result.irVersion,
        inputs: r.result.inputs,
        outputs: r.result.outputs,
        layers: r.layers,
        ...(r.parity ? { parity: r.parity } : {}),
      };
      if (opts.json) {
        printJson(summary);
        return;
      }
      const spec = (t: { name: string; dtype: string; shape: Array<number | string> }) => `${t.name}: ${t.dtype}[${t.shape.join(', ')}]`;
      const lines = [
        `Wrote ${r.outFile} (${kb(r.bytes)}, opset ${r.result.opset}, IR ${r.result.irVersion})`,
        `  inputs:  ${r.result.inputs.map(spec).join('; ')}`,
        `  outputs: ${r.result.outputs.map(spec).join('; ')}`,
        `  layers:  ${Object.entries(r.layers).map(([c, n]) => `${c} x${n}`).join(', ')}`,
      ];
      if (r.parity) {
        const errs = Object.entries(r.parity.maxAbsError).map(([name, v]) => `${name} ${v.toExponential(2)}`).join(', ');
        lines.push(`  parity: max abs error vs tfjs ${errs} (tolerance ${r.parity.tolerance}, batch ${r.parity.batch})`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
