import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { before, describe, test } from 'node:test';
import { initTf } from '../test-helpers.js';
import { ExportError } from '../errors.js';
import { createDefaultRegistry, defaultRegistry } from './index.js';
import { ALL_OPSETS, HandlerRegistry, convertFor, pickVersion, type LayerHandler } from './registry.js';
import { MAX_OPSET, MIN_OPSET } from '../opsets.js';

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

before(initTf);

describe('registry', () => {
  test('the handler set covers the layers the issue lists', () => {
    for (const c of [
      'Embedding', 'GRU', 'LSTM', 'SimpleRNN', 'Bidirectional', 'Conv1D', 'Conv2D', 'Conv2DTranspose', 'MaxPooling1D', 'MaxPooling2D',
      'AveragePooling1D', 'AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
      'UpSampling2D', 'BatchNormalization', 'LayerNormalization', 'Reshape', 'Flatten', 'Permute', 'RepeatVector', 'Concatenate', 'Add',
      'Multiply', 'TimeDistributed', 'ZeroPadding2D', 'Cropping2D', 'Activation', 'LeakyReLU', 'ELU', 'ReLU', 'Softmax', 'ThresholdedReLU',
    ]) {
      assert.ok(defaultRegistry.has(c), c);
    }
  });
});

describe('versions (forms by opset)', () => {
  test('the newest form not above the target opset is picked', () => {
    const forms = { 13: 'decomposed', 17: 'fused', 20: 'newer' };
    assert.equal(pickVersion(forms, 13), 'decomposed');
    assert.equal(pickVersion(forms, 16), 'decomposed');
    assert.equal(pickVersion(forms, 17), 'fused');
    assert.equal(pickVersion(forms, 21), 'newer');
    assert.throws(() => pickVersion(forms, 12), /No form for opset 12\. Should be one of: 13\+, 17\+, 20\+\./);
  });

  test('a handler gives convert or versions, versions starting at its lowest opset and inside its range', () => {
    const form = (_ctx: unknown, _layer: unknown, inputs: string[]) => inputs;
    assert.throws(() => new HandlerRegistry().register({ className: 'A', opsets: ALL_OPSETS }), /must give either convert or versions/);
    assert.throws(() => new HandlerRegistry().register({ className: 'B', opsets: ALL_OPSETS, convert: form, versions: { 13: form } }), /must give either convert or versions/);
    assert.throws(() => new HandlerRegistry().register({ className: 'C', opsets: ALL_OPSETS, versions: { 14: form } }), /must start at its lowest opset 13/);
    assert.throws(() => new HandlerRegistry().register({ className: 'D', opsets: ALL_OPSETS, versions: { 13: form, 22: form } }), /stay within 13-21/);
    const h: LayerHandler = { className: 'E', opsets: ALL_OPSETS, versions: { 13: form, 18: () => ['fused'] } };
    new HandlerRegistry().register(h);
    assert.deepEqual(convertFor(h, 17)(undefined as never, undefined as never, ['x'], undefined as never), ['x']);
    assert.deepEqual(convertFor(h, 18)(undefined as never, undefined as never, ['x'], undefined as never), ['fused']);
  });

  test('ALL_OPSETS is the converter range', () => {
    assert.deepEqual(ALL_OPSETS, { min: MIN_OPSET, max: MAX_OPSET });
  });

  test('layers whose ONNX form changes with the opset declare it', () => {
    assert.deepEqual(Object.keys(defaultRegistry.get('LayerNormalization')?.versions ?? {}), ['13', '17']);
  });
});
