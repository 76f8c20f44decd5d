import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { convertLayersModel } from '../converter.js';
import { rowLengths } from '../parity.js';
import { assertExportParity, chain, initTf, seededInits, zeroBias } from '../test-helpers.js';

before(initTf);

const { rnn: init } = seededInits(100);

describe('recurrent handlers', () => {
  test('GRU, last state, default activations (tanh, hardSigmoid)', async (t) => {
    const model = chain([6, 3], tf.layers.gru({ units: 4, ...init() }));
    const [first] = await assertExportParity(t, model, { name: 'gru-last', scale: 2, params: model.countParams() + zeroBias(3, 4) });
    const gru = first!.result.model.graph.nodes.find((n) => n.opType === 'GRU');
    assert.deepEqual(gru?.attributes.activations?.value, ['HardSigmoid', 'Tanh']);
    assert.deepEqual(gru?.attributes.linear_before_reset?.value, 0);
  });

  test('GRU returning sequences and state, sigmoid recurrent activation', async (t) => {
    const x = tf.input({ shape: [5, 3], name: 'x' });
    const outs = tf.layers
      .gru({ units: 4, returnSequences: true, returnState: true, recurrentActivation: 'sigmoid', ...init() })
      .apply(x) as tf.SymbolicTensor[];
    const model = tf.model({ inputs: x, outputs: outs });
    await assertExportParity(t, model, { name: 'gru-seq-state', params: model.countParams() + zeroBias(3, 4) });
  });

  test('GRU going backwards returns its sequence in processing order', async (t) => {
    const model = chain([5, 2], tf.layers.gru({ units: 3, goBackwards: true, returnSequences: true, ...init() }));
    await assertExportParity(t, model, { name: 'gru-backwards', params: model.countParams() + zeroBias(3, 3) });
  });

  test('LSTM, last state (gate order i,f,c,o -> i,o,f,c)', async (t) => {
    const model = chain([6, 3], tf.layers.lstm({ units: 5, ...init() }));
    await assertExportParity(t, model, { name: 'lstm-last', scale: 2, params: model.countParams() + zeroBias(4, 5) });
  });

  test('LSTM returning sequences and both states, relu activation', async (t) => {
    const x = tf.input({ shape: [4, 3], name: 'x' });
    const outs = tf.layers
      .lstm({ units: 3, returnSequences: true, returnState: true, activation: 'relu', recurrentActivation: 'sigmoid', ...init() })
      .apply(x) as tf.SymbolicTensor[];
    const model = tf.model({ inputs: x, outputs: outs });
    assert.equal(outs.length, 3);
    await assertExportParity(t, model, { name: 'lstm-seq-state', params: model.countParams() + zeroBias(4, 3) });
  });

  test('SimpleRNN (tanh) and SimpleRNN (linear, ONNX Affine) without bias', async (t) => {
    const model = chain(
      [5, 3],
      tf.layers.simpleRNN({ units: 4, returnSequences: true, ...init() }),
      tf.layers.simpleRNN({ units: 2, activation: 'linear', useBias: false, ...init() }),
    );
    await assertExportParity(t, model, { name: 'simple-rnn', params: model.countParams() + zeroBias(1, 4) });
  });

  test('RNN wrapping a GRU cell', async (t) => {
    const model = chain([4, 3], tf.layers.rnn({ cell: tf.layers.gruCell({ units: 3, ...init() }), returnSequences: true }));
    await assertExportParity(t, model, { name: 'rnn-gru-cell', params: model.countParams() + zeroBias(3, 3) });
  });

  test('initial state inputs (GRU h0; LSTM h0, c0)', async (t) => {
    const x = tf.input({ shape: [5, 3], name: 'x' });
    const h0 = tf.input({ shape: [4], name: 'h0' });
    const c0 = tf.input({ shape: [4], name: 'c0' });
    const g = tf.layers.gru({ units: 4, returnSequences: true, ...init() }).apply(x, { initialState: [h0] }) as tf.SymbolicTensor;
    const l = tf.layers.lstm({ units: 4, ...init() }).apply(g, { initialState: [h0, c0] }) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [x, h0, c0], outputs: [g, l] });
    await assertExportParity(t, model, { name: 'initial-state', params: model.countParams() + zeroBias(3, 4) + zeroBias(4, 4) });
  });

  for (const [cell, mergeMode] of [
    ['gru', 'concat'],
    ['lstm', 'sum'],
    ['gru', 'ave'],
    ['lstm', 'mul'],
  ] as const) {
    test(`Bidirectional ${cell} (${mergeMode}), sequences and last state`, async (t) => {
      const make = (returnSequences: boolean) =>
        cell === 'gru'
          ? tf.layers.gru({ units: 3, returnSequences, ...init() })
          : tf.layers.lstm({ units: 3, returnSequences, ...init() });
      const model = chain(
        [5, 2],
        tf.layers.bidirectional({ layer: make(true) as never, mergeMode }),
        tf.layers.bidirectional({ layer: make(false) as never, mergeMode }),
      );
      const gates = cell === 'gru' ? 3 : 4;
      await assertExportParity(t, model, { name: `bidir-${cell}-${mergeMode}`, params: model.countParams() + 2 * zeroBias(gates, 3, 2) });
    });
  }

  test('Bidirectional LSTM with returnState', async (t) => {
    const x = tf.input({ shape: [4, 3], name: 'x' });
    const outs = tf.layers
      .bidirectional({ layer: tf.layers.lstm({ units: 2, returnState: true, ...init() }) as never })
      .apply(x) as tf.SymbolicTensor[];
    assert.equal(outs.length, 5);
    const model = tf.model({ inputs: x, outputs: outs });
    await assertExportParity(t, model, { name: 'bidir-state', params: model.countParams() + zeroBias(4, 2, 2) });
  });
});
