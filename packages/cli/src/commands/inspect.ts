/** `vaekit inspect`: what is inside an .onnx file or a bundle folder. */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { OnnxModelSummary, OnnxValueSummary } from '@vaekit/exporter';
import { MANIFEST_FILE, parseManifest, BundleError } from '@vaekit/core';
import { UsageError } from '../errors.js';
import { printJson } from '../shared/output.js';

async function readOnnx(file: string): Promise<OnnxModelSummary & { file: string; bytes: number }> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch {
    throw new UsageError(`Cannot read ${file}: file not found or not readable.`);
  }
  const { decodeModel } = await import('@vaekit/exporter');
  return { file, bytes: bytes.length, ...decodeModel(new Uint8Array(bytes)) };
}

const shape = (v: OnnxValueSummary) => `${v.name}: ${v.elemType}[${v.shape.join(', ')}]`;

function describe(s: OnnxModelSummary & { file: string; bytes: number }): string {
  const ops = Object.entries(s.opHistogram)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${op} x${n}`)
    .join(', ');
  const meta = Object.entries(s.metadata).map(([k, v]) => `    ${k}: ${v.length > 80 ? v.slice(0, 77) + '...' : v}`);
  return [
    `${s.file}  (${(s.bytes / 1024).toFixed(1)} KiB)`,
    `  opset ${s.opsetImport.map((o) => `${o.domain || 'ai.onnx'}:${o.version}`).join(', ')}, IR version ${s.irVersion}, producer ${s.producerName} ${s.producerVersion}`,
    `  inputs:  ${s.inputs.map(shape).join('; ')}`,
    `  outputs: ${s.outputs.map(shape).join('; ')}`,
    `  nodes:   ${s.nodeCount} (${ops})`,
    `  parameters: ${s.parameterCount.toLocaleString('en-US')} in ${s.initializerCount} initializers`,
    ...(meta.length ? ['  metadata:', ...meta] : []),
  ].join('\n');
}

/** Registers `vaekit inspect`. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show opset, IR version, inputs/outputs, op counts, parameters and size of an .onnx file or a bundle')
    .argument('<path>', '.onnx file or bundle folder')
    .option('--json', 'print as JSON')
    .action(async (target: string, opts: { json?: boolean }) => {
      let stat;
      try {
        stat = await fs.stat(target);
      } catch {
        throw new UsageError(`Not found: ${target} (expected an .onnx file or a bundle folder).`);
      }
      if (!stat.isDirectory()) {
        const summary = await readOnnx(target);
        if (opts.json) printJson(summary);
        else process.stdout.write(describe(summary) + '\n');
        return;
      }
      let manifestText: string;
      try {
        manifestText = await fs.readFile(path.join(target, MANIFEST_FILE), 'utf8');
      } catch {
        throw new BundleError(`${target} is not a vaekit bundle: ${MANIFEST_FILE} is missing.`);
      }
      let json: unknown;
      try {
        json = JSON.parse(manifestText);
      } catch {
        throw new BundleError(`${path.join(target, MANIFEST_FILE)} is not valid JSON.`);
      }
      const manifest = parseManifest(json);
      const graphs = [];
      for (const [name, spec] of Object.entries(manifest.graphs)) graphs.push({ name, ...(await readOnnx(path.join(target, spec.file))) });
      // Variants (e.g. the webgl graphs under webgl/) are listed by profile: `webgl/encoder`.
      for (const [profile, variant] of Object.entries(manifest.variants ?? {})) {
        for (const [name, spec] of Object.entries(variant.graphs)) graphs.push({ name: `${profile}/${name}`, ...(await readOnnx(path.join(target, (spec as { file: string }).file))) });
      }
      if (opts.json) {
        printJson({ manifest, graphs });
        return;
      }
      const header = [
        `bundle ${target}: kind ${manifest.kind}, latent ${manifest.latentSize === 0 ? 'none' : manifest.latentSize}, opset ${manifest.opset}, profile ${manifest.profile}, dtype ${manifest.dtype}${manifest.variants ? `, variants: ${Object.keys(manifest.variants).join(', ')}` : ''}`,
        manifest.training ? `  trained: ${manifest.training.dataset} ${manifest.training.arch}, ${manifest.training.epochs} epochs` : '',
      ].filter(Boolean);
      process.stdout.write([...header, ...graphs.map((g) => `[${g.name}] ${describe(g)}`)].join('\n') + '\n');
    });
}
