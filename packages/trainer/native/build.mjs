#!/usr/bin/env node
// Install step of @vaekit/trainer: compiles the native kernel library with node-gyp (bundled with npm;
// Node's headers come from `nodedir` or the Node installation, so nothing is downloaded). A failed build
// never fails the install: training then runs on tfjs' WASM kernels and says so. Set
// VAEKIT_SKIP_NATIVE=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const say = (msg) => console.error(`@vaekit/trainer: ${msg}`);

if (process.env.VAEKIT_SKIP_NATIVE === '1') {
  say('native kernels not built (VAEKIT_SKIP_NATIVE=1); training will use tfjs\' WASM kernels (several times slower).');
  process.exit(0);
}

function findNodeGyp() {
  // npm tells lifecycle scripts where its bundled node-gyp is.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.env.npm_execpath ?? ''), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c));
}

// Node's own headers: an installation from a distribution keeps them in <prefix>/include/node.
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.join(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const gyp = findNodeGyp();
if (!gyp) {
  say('native kernels not built (node-gyp not found); training will use tfjs\' WASM kernels (several times slower).');
  process.exit(0);
}
const dir = nodeDir();
const args = [gyp, 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').filter((l) => /error/i.test(l));
  say(
    `native kernels not built (${lines[0]?.trim() ?? `node-gyp exited with ${r.status}`}); ` +
      'training will use tfjs\' WASM kernels (several times slower). Needs a C++17 compiler, make and python3.',
  );
  process.exit(0);
}
say('native kernels built.');
