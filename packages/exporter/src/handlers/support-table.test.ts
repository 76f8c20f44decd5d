import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { supportTable } from './support-table.js';

const DOC = new URL('../../../../docs/exporter.md', import.meta.url);
const START = '<!-- support-table:start (generated from the handler registry; UPDATE_DOCS=1 node scripts/run-tests.mjs support-table) -->\n';
const END = '<!-- support-table:end -->';

test('the support table in docs/exporter.md equals the handler registry', () => {
  const doc = readFileSync(DOC, 'utf8');
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  assert.ok(from >= 0 && to > from, `docs/exporter.md needs the markers ${START.trim()} ... ${END}`);
  const want = supportTable();
  if (process.env.UPDATE_DOCS) writeFileSync(DOC, doc.slice(0, from + START.length) + want + doc.slice(to));
  else assert.equal(doc.slice(from + START.length, to), want, 'regenerate with UPDATE_DOCS=1');
});
