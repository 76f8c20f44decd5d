import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelConfigText, type TritonModelOptions } from './config.js';

const options: TritonModelOptions = { maxBatchSize: 16, preferredBatchSizes: [8, 32, 16], maxQueueDelayMicroseconds: 500, kind: 'KIND_CPU', instanceCount: 2, parameters: { intra_op_thread_count: '1' } };

test('a stateless config: batch dimension left out, [batch] tensors as dims [1] reshaped to [], dynamic batching', () => {
  const text = modelConfigText('m', [{ name: 'lengths', dataType: 'TYPE_INT32', dims: [] }, { name: 'tokens', dataType: 'TYPE_INT32', dims: [-1] }], [{ name: 'mu', dataType: 'TYPE_FP32', dims: [4] }], options);
  assert.match(text, /^name: "m"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 16\n/);
  assert.match(text, /name: "lengths"\n {4}data_type: TYPE_INT32\n {4}dims: \[ 1 \]\n {4}reshape: \{ shape: \[ \] \}/);
  assert.match(text, /name: "tokens"\n {4}data_type: TYPE_INT32\n {4}dims: \[ -1 \]\n {2}\}/);
  assert.match(text, /dynamic_batching \{\n {2}preferred_batch_size: \[ 8, 16 \]\n {2}max_queue_delay_microseconds: 500\n\}/, 'preferred sizes above max_batch_size are dropped');
  assert.match(text, /instance_group \[\n {2}\{\n {4}count: 2\n {4}kind: KIND_CPU/);
  assert.match(text, /parameters \{\n {2}key: "intra_op_thread_count"\n {2}value: \{ string_value: "1" \}\n\}/);
  assert.doesNotMatch(text, /sequence_batching/);
});

test('a stateful config: sequence batcher with the START control and zero-initialised implicit states', () => {
  const text = modelConfigText('s', [{ name: 'token', dataType: 'TYPE_INT32', dims: [] }], [{ name: 'logits', dataType: 'TYPE_FP32', dims: [10] }], options, {
    controlInput: 'START',
    states: [
      { input: 'h', output: 'h_out', dataType: 'TYPE_FP32', dims: [8] },
      { input: 'c', output: 'c_out', dataType: 'TYPE_FP32', dims: [8] },
    ],
    maxCandidateSequences: 64,
    maxSequenceIdleMicroseconds: 1000,
  });
  assert.doesNotMatch(text, /dynamic_batching/);
  assert.match(text, /kind: CONTROL_SEQUENCE_START\n {10}int32_false_true: \[ 0, 1 \]/);
  assert.equal(text.match(/zero_data: true/g)?.length, 2);
  assert.match(text, /input_name: "c"\n {6}output_name: "c_out"/);
  assert.match(text, /oldest \{\n {4}max_candidate_sequences: 64/);
});
