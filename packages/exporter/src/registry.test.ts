import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExportError } from './errors.js';
import { createDefaultRegistry, defaultRegistry } from './handlers/index.js';
import { HandlerRegistry, type LayerHandler } from './handlers/registry.js';

const identity = (className: string, min = 13, max = 21): LayerHandler => ({
  className,
  opsets: { min, max },
  convert: (_ctx, _layer, inputs) => inputs,
});

test('a duplicate registration throws, naming the class', () => {
  const r = new HandlerRegistry().register(identity('Foo'));
  assert.throws(() => r.register(identity('Foo')), (err: unknown) => err instanceof ExportError && /"Foo" is already registered/.test(err.message));
  assert.throws(() => createDefaultRegistry().register(identity('Dense')), /"Dense" is already registered/);
});

test('an invalid opset range is refused', () => {
  assert.throws(() => new HandlerRegistry().register(identity('Bar', 18, 13)), /invalid opset range/);
});

test('the default registry covers the core, activation and conv families', () => {
  for (const name of [
    'InputLayer',
    'Dense',
    'Dropout',
    'Activation',
    'Reshape',
    'Flatten',
    'LeakyReLU',
    'Conv2D',
    'Conv2DTranspose',
  ]) {
    assert.ok(defaultRegistry.has(name), name);
  }
  const names = defaultRegistry.classNames();
  assert.deepEqual(names, [...names].sort());
});
