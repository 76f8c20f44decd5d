/** Shared helpers of the end-to-end tests: running the built CLI and making small real bundles. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vaekit ...args` (the built CLI) in `cwd`. */
export function vaekit(args: string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI and fails the test with its output unless it exits 0. */
export function vaekitOk(args: string[], cwd = ROOT): CliResult {
  const r = vaekit(args, cwd);
  assert.equal(r.code, 0, `vaekit ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'vaekit-e2e-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

const bundles = new Map<string, { runDir: string; bundleDir: string }>();

/**
 * Trains a small real model on MNIST digits (one epoch on a few hundred digits) and exports it,
 * once per architecture and process.
 */
export function trainedBundle(arch: 'dense' | 'conv' = 'dense'): { runDir: string; bundleDir: string } {
  const cached = bundles.get(arch);
  if (cached) return cached;
  const dir = tempDir();
  const runDir = path.join(dir, 'run');
  const bundleDir = path.join(dir, 'bundle');
  vaekitOk(['train', 'image', '--arch', arch, '--epochs', '1', '--limit', arch === 'conv' ? '256' : '1024', '--latent', '8', '--out', runDir]);
  vaekitOk(['export', runDir, bundleDir]);
  const made = { runDir, bundleDir };
  bundles.set(arch, made);
  return made;
}
