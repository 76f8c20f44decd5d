#!/usr/bin/env node
// The `vaekit` command. A committed shim, not the compiled file: npm links a package's bin at install
// time only when its target exists, and dist/ is compiled after the install (by the root `prepare`),
// so a bin pointing into dist/ would leave `npx vaekit` missing after a fresh `npm ci`.
const main = new URL('../dist/main.js', import.meta.url);
try {
  await import(main.href);
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('vaekit: the CLI is not compiled yet (packages/cli/dist/main.js is missing). Run: npm run build\n');
    process.exit(1);
  }
  throw err;
}
