/** `vaekit export`: a run folder to an ONNX bundle. */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExportBundleOptions } from '@vaekit/exporter';
import type { VariantReport } from '@vaekit/core';
import { EXPORT_PROFILES, OPSETS, WEIGHT_DTYPES, type ExportProfile, type WeightDtype } from '../shared/choices.js';
import { intIn, oneOf, positiveInt } from '../shared/options.js';
import { printJson } from '../shared/output.js';

const { min: MIN_OPSET, max: MAX_OPSET, default: DEFAULT_OPSET } = OPSETS;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Parses `--dtype`: one weight dtype or a comma-separated list of distinct ones. */
function dtypeList(value: string): WeightDtype[] {
  const one = oneOf(WEIGHT_DTYPES);
  const list = value.split(',').map((d) => one(d.trim()));
  if (new Set(list).size !== list.length) throw new InvalidArgumentError(`${JSON.stringify(value)} names a dtype twice. Should be distinct values of: ${WEIGHT_DTYPES.join(', ')}.`);
  return list;
}

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
    .option(
      '--dtype <dtypes>',
      `weight storage (${WEIGHT_DTYPES.join(', ')}), or a comma-separated list (e.g. fp32,fp16,int8): the first is the bundle's own graphs, the others go in a folder each and are picked with loadVae(src, { dtype }); fp16/int8 report size, error and held-out loss change vs fp32`,
      dtypeList,
      ['fp32'],
    )
    .option('--profile <profile>', `graph profile (${EXPORT_PROFILES.join(', ')}); webgl: only ops onnxruntime-web's WebGL backend runs, and only WebGL runs it (see --webgl-variant)`, oneOf(EXPORT_PROFILES), 'default')
    .option('--webgl-variant', "also write webgl-profile graphs (fp32) under webgl/ in the same bundle, so the bundle also runs on onnxruntime-web's WebGL backend; about doubles the bundle")
    .option('--held-out <n>', 'held-out examples (digits or sentences of the run\'s test split) for the variant loss change', positiveInt(10_000), 500)
    .option('--json', 'print the export summary as JSON')
    .action(async (runDir: string, bundleDir: string, opts: { opset: number; dtype: WeightDtype[]; profile: ExportProfile; webglVariant?: boolean; heldOut: number; json?: boolean }) => {
      const [dtype, ...extraDtypes] = opts.dtype as [WeightDtype, ...WeightDtype[]];
      const { exportRunBundle } = await import('../shared/run-source.js');
      const options: ExportBundleOptions = {
        opset: opts.opset,
        dtype,
        extraDtypes,
        profile: opts.profile,
        webglVariant: opts.webglVariant === true,
        onProgress: opts.json ? undefined : (e) => process.stderr.write(`${e.message}\n`),
      };
      const result = await exportRunBundle(runDir, bundleDir, { ...options, heldOut: opts.heldOut });
      const variant = result.manifest.variant;
      if (opts.json) {
        printJson({
          bundleDir: result.bundleDir,
          opset: result.opset,
          irVersion: result.irVersion,
          dtype: result.manifest.dtype,
          profile: result.manifest.profile,
          variants: Object.keys(result.manifest.variants ?? {}),
          dtypes: [result.manifest.dtype, ...Object.keys(result.manifest.dtypes ?? {})],
          files: result.files,
          parity: result.parity,
          ...(variant ? { variant } : {}),
        });
        return;
      }
      const variants = Object.keys(result.manifest.variants ?? {});
      const extra = Object.keys(result.manifest.dtypes ?? {});
      const lines = [
        `Wrote bundle ${result.bundleDir} (opset ${result.opset}, IR ${result.irVersion}, profile ${result.manifest.profile}, dtype ${result.manifest.dtype}${extra.length ? ` (also ${extra.join(', ')})` : ''}${variants.length ? `, variants: ${variants.join(', ')}` : ''}):`,
      ];
      for (const f of result.files) lines.push(`  ${f.path.padEnd(24)} ${kb(f.bytes).padStart(11)}  sha256 ${f.sha256.slice(0, 16)}…`);
      for (const [graph, report] of Object.entries(result.parity)) {
        const errs = Object.entries(report.maxAbsError).map(([name, v]) => `${name} ${v.toExponential(2)}`).join(', ');
        lines.push(`  parity ${graph}: max abs error vs tfjs ${errs} (tolerance ${report.tolerance}, batch ${report.batch})`);
      }
      for (const variant of [result.manifest.variant, ...Object.values((result.manifest.dtypes ?? {}) as Record<string, { variant?: VariantReport }>).map((d) => d.variant)]) {
        if (!variant) continue;
        const worst = Math.max(...Object.values(variant.maxAbsErrorVsFp32 ?? {}));
        lines.push(
          `  ${variant.dtype}: graphs ${kb(variant.bytes)} vs fp32 ${kb(variant.fp32Bytes ?? 0)}, max abs error vs fp32 ${worst.toExponential(2)}` +
            (variant.heldOutLoss
              ? `, held-out loss ${variant.heldOutLoss.variant.toFixed(3)} vs fp32 ${variant.heldOutLoss.fp32.toFixed(3)} (change ${variant.heldOutLossDelta!.toExponential(2)} nats)`
              : ''),
        );
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
    .option('--profile <profile>', `graph profile (${EXPORT_PROFILES.join(', ')})`, oneOf(EXPORT_PROFILES), 'default')
    .option('--dtype <dtype>', `weight storage (${WEIGHT_DTYPES.join(', ')})`, oneOf(WEIGHT_DTYPES), 'fp32')
    .option('--no-parity', 'skip the parity check (needed when inputs have dynamic non-batch dimensions)')
    .option('--json', 'print the summary as JSON')
    .action(async (modelJson: string, outFile: string, opts: { opset: number; profile: ExportProfile; dtype: WeightDtype; parity: boolean; json?: boolean }) => {
      const { exportModelFile } = await import('@vaekit/exporter');
      const { useExportBackend } = await import('../shared/run-source.js');
      await useExportBackend();
      const r = await exportModelFile(modelJson, outFile, { opset: opts.opset, profile: opts.profile, dtype: opts.dtype, parity: opts.parity });
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
