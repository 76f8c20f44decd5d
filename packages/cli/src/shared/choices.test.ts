import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPSET, EXPORT_PROFILES as EXPORTER_PROFILES, MAX_OPSET, MIN_OPSET, WEIGHT_DTYPES as EXPORTER_DTYPES } from '@vaekit/exporter';
import { BACKEND_NAMES } from '@vaekit/runtime';
import { BACKEND_CHOICES } from '@vaekit/trainer';
import { DEVICES, EXPORT_PROFILES, OPSETS, TF_BACKENDS, WEIGHT_DTYPES } from './choices.js';

test('the CLI option lists agree with the packages they stand for', () => {
  assert.deepEqual([...TF_BACKENDS], [...BACKEND_CHOICES]);
  assert.deepEqual(OPSETS, { min: MIN_OPSET, max: MAX_OPSET, default: DEFAULT_OPSET });
  assert.deepEqual([...WEIGHT_DTYPES], [...EXPORTER_DTYPES]);
  assert.deepEqual([...EXPORT_PROFILES], [...EXPORTER_PROFILES]);
  for (const d of DEVICES) assert.ok((BACKEND_NAMES as readonly string[]).includes(d), `${d} is a runtime backend`);
});
