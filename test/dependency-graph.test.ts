/**
 * Package dependencies follow the data flow (train -> run folder -> export -> bundle -> run) and nothing
 * else: trainer, exporter and runtime each depend on core plus their own engine; the CLI depends on all.
 * Checked twice: the edges declared in every workspace package.json, and the `@vaekit/*` and engine
 * packages that each package's sources actually import.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');
const packagesDir = path.join(root, 'packages');

/** The vaekit packages each package may depend on. */
const ALLOWED_VAEKIT: Record<string, string[]> = {
  '@vaekit/core': [],
  '@vaekit/trainer': ['@vaekit/core'],
  '@vaekit/runtime': ['@vaekit/core'],
  '@vaekit/exporter': ['@vaekit/core'],
  vaekit: ['@vaekit/core', '@vaekit/trainer', '@vaekit/exporter', '@vaekit/runtime'],
};

/** Engines: which package may pull in tfjs or ONNX Runtime (in any dependency field). */
const ENGINES: Record<string, RegExp[]> = {
  '@vaekit/core': [/^@tensorflow\/tfjs$/], // optional peer, for the `/tfjs` subpath only
  '@vaekit/trainer': [/^@tensorflow\/tfjs/],
  '@vaekit/runtime': [/^onnxruntime-/],
  '@vaekit/exporter': [/^@tensorflow\/tfjs$/, /^onnxruntime-/],
  vaekit: [/^@tensorflow\/tfjs/, /^onnxruntime-/],
};
const isEngine = (name: string) => name.startsWith('@tensorflow/tfjs') || name.startsWith('onnxruntime-');

interface Pkg {
  dir: string;
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function workspaces(): Pkg[] {
  return readdirSync(packagesDir)
    .filter((d) => statSync(path.join(packagesDir, d, 'package.json'), { throwIfNoEntry: false })?.isFile())
    .map((d) => ({ dir: path.join(packagesDir, d), ...(JSON.parse(readFileSync(path.join(packagesDir, d, 'package.json'), 'utf8')) as Omit<Pkg, 'dir'>) }));
}

/** Runtime dependency names (what installing the package pulls in or asks for). */
function declared(pkg: Pkg): string[] {
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
}

/** Bare package names imported by the non-test sources of a package. */
function imported(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ts$/.test(name) && !/\.test\.ts$|test-helpers\.ts$/.test(name)) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g)) {
          const spec = m[1]!;
          if (spec.startsWith('node:')) continue;
          const parts = spec.split('/');
          found.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
        }
      }
    }
  };
  walk(path.join(dir, 'src'));
  return found;
}

test('every workspace package is known to the rule table', () => {
  assert.deepEqual(workspaces().map((p) => p.name).sort(), Object.keys(ALLOWED_VAEKIT).sort());
});

test('declared dependencies follow the data flow: no other edge between vaekit packages, engines only where they run', () => {
  for (const pkg of workspaces()) {
    const deps = declared(pkg);
    const vaekit = deps.filter((d) => d === 'vaekit' || d.startsWith('@vaekit/'));
    const extra = vaekit.filter((d) => !ALLOWED_VAEKIT[pkg.name]!.includes(d));
    assert.deepEqual(extra, [], `${pkg.name} must not depend on ${extra.join(', ')}`);
    const engines = deps.filter(isEngine).filter((d) => !ENGINES[pkg.name]!.some((re) => re.test(d)));
    assert.deepEqual(engines, [], `${pkg.name} must not depend on ${engines.join(', ')}`);
  }
});

test('sources import only what their package declares', () => {
  for (const pkg of workspaces()) {
    const deps = new Set(declared(pkg));
    const undeclared = [...imported(pkg.dir)].filter((name) => name !== pkg.name && !deps.has(name));
    assert.deepEqual(undeclared, [], `${pkg.name} imports packages it does not declare: ${undeclared.join(', ')}`);
  }
});

test('core imports no engine outside its /tfjs subpath', () => {
  const core = workspaces().find((p) => p.name === '@vaekit/core')!;
  const notTfjs = new Set<string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'tfjs') walk(p);
      } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/from\s+['"]([^'"]+)['"]/g)) if (isEngine(m[1]!)) notTfjs.add(`${path.relative(core.dir, p)}: ${m[1]}`);
      }
    }
  };
  walk(path.join(core.dir, 'src'));
  assert.deepEqual([...notTfjs], []);
});

/**
 * The modules each non-test source file of a package loads at run time: relative `import`/`export ... from`
 * and side-effect imports, without type-only ones (`import type`, or braces naming only `type X`), which
 * TypeScript erases.
 */
function moduleGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ts$/.test(name) && !/\.d\.ts$|\.test\.ts$/.test(name)) {
        const deps: string[] = [];
        for (const m of readFileSync(p, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)([^;]*?)\s*from\s+['"](\.[^'"]+)['"]|^import\s+['"](\.[^'"]+)['"]/gms)) {
          const names = /^\{([^}]*)\}$/.exec(m[1]?.trim() ?? '')?.[1];
          if (names !== undefined && names.split(',').map((s) => s.trim()).filter(Boolean).every((n) => n.startsWith('type '))) continue;
          deps.push(path.resolve(path.dirname(p), (m[2] ?? m[3])!.replace(/\.js$/, '.ts')));
        }
        graph.set(p, deps);
      }
    }
  };
  walk(srcDir);
  return graph;
}

test('no import cycle inside a package (a cycle makes the result depend on which module is imported first)', () => {
  for (const pkg of workspaces()) {
    const graph = moduleGraph(path.join(pkg.dir, 'src'));
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        if (state.get(dep) === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep].map((f) => path.relative(pkg.dir, f)).join(' -> '));
        else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, [], `${pkg.name} has import cycles:\n${cycles.join('\n')}`);
  }
});
