/**
 * Triton `config.pbtxt` text (protobuf text format of `inference.ModelConfig`, see
 * schema/triton_model_config.proto) for the ONNX Runtime backend.
 */

/** One input or output as Triton sees it: dims without the batch dimension, -1 for a dynamic one. */
export interface TritonTensor {
  name: string;
  /** Triton DataType enum name, e.g. `TYPE_FP32`. */
  dataType: string;
  dims: number[];
}

/** Scheduling and placement of one model. */
export interface TritonModelOptions {
  maxBatchSize: number;
  /** Dynamic batcher: preferred sizes and the longest a request waits for a batch. */
  preferredBatchSizes: number[];
  maxQueueDelayMicroseconds: number;
  /** `KIND_CPU` (default) or `KIND_GPU`. */
  kind: 'KIND_CPU' | 'KIND_GPU';
  instanceCount: number;
  /** ONNX Runtime backend parameters, e.g. `intra_op_thread_count`. */
  parameters: Record<string, string>;
}

/** Sequence batcher settings of the stateful decoder. */
export interface TritonSequenceOptions {
  controlInput: string;
  states: Array<{ input: string; output: string; dataType: string; dims: number[] }>;
  maxCandidateSequences: number;
  maxSequenceIdleMicroseconds: number;
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: Array<number | string>) => `[ ${xs.join(', ')} ]`;

function tensorBlock(t: TritonTensor, indent: string): string {
  // A [batch] tensor has no dims left: Triton wants [1] with a reshape to [] (a scalar per request).
  const lines = [`${indent}  name: ${q(t.name)}`, `${indent}  data_type: ${t.dataType}`, `${indent}  dims: ${list(t.dims.length ? t.dims : [1])}`];
  if (t.dims.length === 0) lines.push(`${indent}  reshape: { shape: [ ] }`);
  return `${indent}{\n${lines.join('\n')}\n${indent}}`;
}

/** The `config.pbtxt` of one model; `sequence` makes it a stateful model for the sequence batcher. */
export function modelConfigText(
  name: string,
  inputs: TritonTensor[],
  outputs: TritonTensor[],
  o: TritonModelOptions,
  sequence?: TritonSequenceOptions,
): string {
  const parts: string[] = [
    `name: ${q(name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${o.maxBatchSize}`,
    `input [\n${inputs.map((t) => tensorBlock(t, '  ')).join(',\n')}\n]`,
    `output [\n${outputs.map((t) => tensorBlock(t, '  ')).join(',\n')}\n]`,
  ];
  const preferred = o.preferredBatchSizes.filter((n) => n <= o.maxBatchSize);
  if (sequence) {
    parts.push(
      [
        'sequence_batching {',
        `  max_sequence_idle_microseconds: ${sequence.maxSequenceIdleMicroseconds}`,
        '  oldest {',
        `    max_candidate_sequences: ${sequence.maxCandidateSequences}`,
        ...(preferred.length ? [`    preferred_batch_size: ${list(preferred)}`] : []),
        `    max_queue_delay_microseconds: ${o.maxQueueDelayMicroseconds}`,
        '  }',
        '  control_input [',
        '    {',
        `      name: ${q(sequence.controlInput)}`,
        '      control [',
        '        {',
        '          kind: CONTROL_SEQUENCE_START',
        '          int32_false_true: [ 0, 1 ]',
        '        }',
        '      ]',
        '    }',
        '  ]',
        '  state [',
        sequence.states
          .map((s) =>
            [
              '    {',
              `      input_name: ${q(s.input)}`,
              `      output_name: ${q(s.output)}`,
              `      data_type: ${s.dataType}`,
              `      dims: ${list(s.dims)}`,
              '      initial_state: {',
              `        data_type: ${s.dataType}`,
              `        dims: ${list(s.dims)}`,
              '        zero_data: true',
              `        name: ${q(`${s.input}_zeros`)}`,
              '      }',
              '    }',
            ].join('\n'),
          )
          .join(',\n'),
        '  ]',
        '}',
      ].join('\n'),
    );
  } else {
    parts.push(
      ['dynamic_batching {', ...(preferred.length ? [`  preferred_batch_size: ${list(preferred)}`] : []), `  max_queue_delay_microseconds: ${o.maxQueueDelayMicroseconds}`, '}'].join('\n'),
    );
  }
  parts.push(`instance_group [\n  {\n    count: ${o.instanceCount}\n    kind: ${o.kind}\n  }\n]`);
  for (const [key, value] of Object.entries(o.parameters)) parts.push(`parameters {\n  key: ${q(key)}\n  value: { string_value: ${q(value)} }\n}`);
  return parts.join('\n') + '\n';
}
