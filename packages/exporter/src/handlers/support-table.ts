/**
 * The exporter's support table, generated from the handler registry and the activation table (the
 * section of docs/exporter.md between the `support-table` markers is this text; a test keeps them equal).
 */
import { ACTIVATIONS } from './activation.js';
import { HANDLER_FAMILIES } from './index.js';
import type { Versioned } from './registry.js';

const changes = (versions: Versioned<unknown> | undefined, min: number): string => {
  const at = Object.keys(versions ?? {}).map(Number).filter((v) => v > min).sort((a, b) => a - b);
  return at.length === 0 ? '—' : at.map((v) => `${v}`).join(', ');
};

/** Markdown tables: every built-in layer handler with its opset range and the opsets where its ONNX form changes, then the activations. */
export function supportTable(): string {
  const lines = ['| family | layer class | opsets | ONNX form changes at opset |', '|---|---|---|---|'];
  for (const [family, handlers] of Object.entries(HANDLER_FAMILIES)) {
    for (const h of handlers) lines.push(`| ${family} | ${h.className} | ${h.opsets.min}–${h.opsets.max} | ${changes(h.versions, h.opsets.min)} |`);
  }
  lines.push('', '| activation (Dense, Conv*, Activation, ... `activation`) | ONNX form changes at opset |', '|---|---|');
  for (const [id, spec] of ACTIVATIONS) lines.push(`| ${id} | ${changes(spec.versions, Math.min(...Object.keys(spec.versions ?? { 0: 0 }).map(Number)))} |`);
  return lines.join('\n') + '\n';
}
