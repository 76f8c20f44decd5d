/**
 * Picks the TensorFlow.js backend for training: tfjs-node when it loads (it needs libtensorflow, which
 * its install script downloads, so it is optional), else WASM with the kernels it lacks registered by
 * us, else the pure-JS CPU backend (a last resort: tens of times slower).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TrainerError } from './errors.js';
import { installNativeKernels } from './kernels/native.js';
import { registerWasmConv2DBackpropFilter } from './kernels/wasm-conv.js';
import { registerWasmUnsortedSegmentSum } from './kernels/wasm-segment-sum.js';

/** Backend names accepted by {@link initBackend}. `node` is tfjs-node (libtensorflow). */
export const BACKEND_CHOICES = ['auto', 'node', 'wasm', 'cpu'] as const;
/** A requested training backend. */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What {@link initBackend} picked and why. */
export interface BackendInfo {
  /** The tfjs backend name now active: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Human-readable explanation (fallbacks taken, kernels added, speed warnings). */
  note: string;
  /** Kernels the WASM backend lacked that now run through the CPU backend's implementation. */
  bridgedKernels: string[];
  /**
   * The native kernel library in use (`avx512, 2 threads: BatchMatMul, ...`), or undefined when training
   * runs on tfjs' own kernels (then `note` says why).
   */
  native?: string;
}

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /**
   * Use vaekit's native kernels on the WASM backend when they are built (default true; the environment
   * variable `VAEKIT_NATIVE=0` also turns them off).
   */
  native?: boolean;
}

const require = createRequire(import.meta.url);

/** Validates a user-supplied backend name. */
export function parseBackendChoice(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new TrainerError(`Unsupported backend "${value}". Should be one of: ${BACKEND_CHOICES.join(', ')}.`);
}

async function tryNode(): Promise<string | undefined> {
  try {
    // A computed specifier keeps bundlers and tsc from requiring the optional package.
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
    if (await tf.setBackend('tensorflow')) return undefined;
    return 'tfjs-node loaded but its backend did not initialise';
  } catch (err) {
    return `tfjs-node is not available (${(err as Error).message.split('\n')[0]})`;
  }
}

let bridged: string[] | undefined;

/**
 * Registers, for every kernel the CPU backend has and WASM lacks (vaekit supplies `Conv2DBackpropFilter`
 * and `UnsortedSegmentSum` itself), a WASM kernel that copies its inputs to the CPU backend, runs the
 * CPU implementation and copies the outputs back. Correct, not fast.
 */
function bridgeMissingWasmKernels(): string[] {
  if (bridged) return bridged;
  const have = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  const cpu = tf.engine().findBackend('cpu');
  if (!cpu) throw new TrainerError('The tfjs CPU backend is not registered; cannot add missing WASM kernels.', { userError: false });
  // The CPU backend greets Node users with an advert for tfjs-node on first use; we chose already.
  (cpu as unknown as { firstUse: boolean }).firstUse = false;
  bridged = [];
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (have.has(config.kernelName)) continue;
    const cpuKernel = config.kernelFunc;
    tf.registerKernel({
      kernelName: config.kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const wasm = backend as tf.KernelBackend;
        const created: tf.TensorInfo[] = [];
        const cpuInputs: tf.NamedTensorInfoMap = {};
        for (const [key, info] of Object.entries(inputs)) {
          if (!info) continue;
          const values = (wasm.readSync(info.dataId) as tf.TypedArray).slice();
          const moved = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
          created.push(moved);
          cpuInputs[key] = moved;
        }
        const out = cpuKernel({ inputs: cpuInputs, attrs: attrs ?? {}, backend: cpu });
        const outs = Array.isArray(out) ? out : [out];
        const results = outs.map((o) => {
          const values = (cpu.readSync(o.dataId) as tf.TypedArray).slice();
          cpu.disposeData(o.dataId);
          return { dataId: wasm.write(values, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
        });
        for (const c of created) cpu.disposeData(c.dataId);
        return Array.isArray(out) ? results : results[0]!;
      },
    });
    bridged.push(config.kernelName);
  }
  return bridged;
}

async function tryWasm(): Promise<string | undefined> {
  try {
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    setWasmPaths(path.join(dir, 'dist') + path.sep);
    if (await tf.setBackend('wasm')) return undefined;
    return 'the WASM backend did not initialise';
  } catch (err) {
    return `the WASM backend failed (${(err as Error).message.split('\n')[0]})`;
  }
}

/**
 * Activates a tfjs backend. `auto` tries tfjs-node, then WASM, then CPU; a named backend that cannot
 * start throws {@link TrainerError}.
 */
export async function initBackend(choice: BackendChoice = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  const notes: string[] = [];
  if (choice === 'auto' || choice === 'node') {
    const failure = await tryNode();
    if (!failure) return { name: 'tensorflow', note: 'tfjs-node (libtensorflow)', bridgedKernels: [] };
    if (choice === 'node') throw new TrainerError(`Backend "node" unavailable: ${failure}. Try --backend wasm.`, { userError: false });
    notes.push(failure);
  }
  if (choice === 'auto' || choice === 'wasm') {
    const failure = await tryWasm();
    if (!failure) {
      registerWasmConv2DBackpropFilter();
      registerWasmUnsortedSegmentSum();
      let native: string | undefined;
      if (options.native !== false) {
        const installed = installNativeKernels();
        native = installed.native;
        if (native) {
          notes.push(`native kernels (${native})`);
        } else {
          const failure = installed.failure;
          notes.push(`native kernels ${failure}; using tfjs' WASM kernels (several times slower)`);
        }
      }
      const kernels = bridgeMissingWasmKernels();
      notes.push(`WASM backend, ${kernels.length} missing kernels served by the CPU implementation`);
      return { name: 'wasm', note: notes.join('; '), bridgedKernels: kernels, ...(native ? { native } : {}) };
    }
    if (choice === 'wasm') throw new TrainerError(`Backend "wasm" unavailable: ${failure}.`, { userError: false });
    notes.push(failure);
  }
  await tf.setBackend('cpu');
  // The CPU backend's advert for tfjs-node would repeat what the note below says.
  (tf.engine().findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
  notes.push('pure-JS CPU backend: expect training to be 10-100x slower than WASM');
  return { name: 'cpu', note: notes.join('; '), bridgedKernels: [] };
}

/**
 * Makes sure a backend is active before tfjs is used by library code (loading checkpoints, exporting):
 * keeps the current one, or runs {@link initBackend}('auto') when none was chosen yet.
 */
export async function ensureBackend(): Promise<void> {
  if ((tf.engine() as unknown as { backendName: string | null }).backendName) return;
  await initBackend('auto');
}
