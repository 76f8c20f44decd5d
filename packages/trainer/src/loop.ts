/**
 * The one training loop of every model kind: shuffles and noise seeded by core's `seeds.ts` (so
 * `--resume` repeats an uninterrupted run), one {@link NonFiniteGuard}, a checkpoint and a
 * `metrics.jsonl` line per epoch, progress through hooks, and one resume path ({@link resumeRun}).
 * What differs between kinds comes from their {@link TrainingKind} spec.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE, createRng, permutation, shuffleSeed, type TrainConfig } from '@vaekit/core';
import { removeStaleTemps } from '@vaekit/core/node';
import { METRICS_FILE, loadCheckpoint, saveCheckpoint, writeConfig, type Checkpoint, type TrainState } from './checkpoint.js';
import { CheckpointError, NonFiniteLossError, TrainerError } from './errors.js';
import type { AnyTrainingKind, KindRun, RunConfigBase, TrainingKind } from './kinds/types.js';
import './kinds/builtin.js';
import { trainingKind } from './kinds/registry.js';
import type { NonFinitePolicy, TrainOptions } from './step.js';

/**
 * Callbacks through which training reports progress (the library never prints). `Start`, `Line` and
 * `Batch` are the kind's extra `onStart` fields, its metrics line and its extra `onBatch` fields.
 */
export interface RunHooks<Start extends object = object, Line = unknown, Batch extends object = object> {
  /** Once, before the first epoch of this process: the work ahead (and the kind's data summary). */
  onStart?(info: Start & { batchesPerEpoch: number; epochs: number; startEpoch: number }): void;
  /** After every applied optimizer step. */
  onBatch?(info: Batch & { epoch: number; batch: number; batches: number; loss: number }): void;
  /** Held-out evaluation progress at the end of each epoch. */
  onEvalProgress?(done: number, total: number): void;
  /** After every epoch, once its checkpoint is written. */
  onEpoch?(metrics: Line): void;
  /** A batch skipped because its loss or gradients were not finite (`nonFinite: 'skip'`); also reported through `onNotice`. */
  onSkip?(info: { epoch: number; batch: number; loss: number }): void;
  /** A notable event: a skipped update, a phase that ended, an early stop. */
  onNotice?(message: string): void;
}

/** Outcome of a training run. */
export interface RunResult<Line = unknown> {
  runDir: string;
  /** Every completed epoch's metrics line (resumed runs: the earlier ones too). */
  epochs: Line[];
  seconds: number;
  /** Why training ended before `config.epochs`, if it did (early stopping). */
  stoppedEarly?: string;
}

/** A run in progress: the kind's state plus the loop's position. */
export interface LoopRun<C extends RunConfigBase = RunConfigBase, D = unknown, M = unknown, S = unknown, Line = unknown> extends KindRun<C, D, M, S> {
  /** Completed epochs and optimizer steps (0 for a fresh run). */
  epoch: number;
  step: number;
  history: Line[];
  /** Seconds spent before this process (resumed runs). */
  priorSeconds: number;
}

const POLICIES: readonly NonFinitePolicy[] = ['stop', 'skip'];

/**
 * The non-finite policy of a run: a NaN or infinite loss or gradient is never applied; `stop` ends
 * training there, `skip` leaves the weights untouched and goes on until `maxConsecutiveSkips` updates in
 * a row were skipped. Either way the last complete checkpoint stays the run's newest.
 */
export class NonFiniteGuard {
  readonly policy: NonFinitePolicy;
  readonly maxConsecutiveSkips: number;
  private consecutive = 0;

  constructor(
    options: TrainOptions,
    /** What the errors advise, without the final period ("Lower the learning rate"). */
    private readonly advice: string,
    private readonly hooks: Pick<RunHooks, 'onSkip' | 'onNotice'> = {},
  ) {
    const policy = options.nonFinite ?? 'stop';
    if (!POLICIES.includes(policy)) {
      throw new TrainerError(`Unsupported non-finite policy "${String(policy)}". Should be one of: ${POLICIES.join(', ')}.`);
    }
    const max = options.maxConsecutiveSkips ?? 20;
    if (!Number.isInteger(max) || max < 0) throw new TrainerError(`maxConsecutiveSkips must be an integer >= 0, got ${max}.`);
    this.policy = policy;
    this.maxConsecutiveSkips = max;
  }

  /** What is left of the run when training stops during `epoch`. */
  static kept(epoch: number): string {
    return epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet';
  }

  /**
   * True for an applied update; false for one skipped (`skip`); throws {@link NonFiniteLossError} when
   * training must stop. `batch` is 1-based.
   */
  accept(outcome: { loss: number; applied: boolean }, epoch: number, batch: number, batches: number): boolean {
    if (outcome.applied) {
      this.consecutive = 0;
      return true;
    }
    const what = Number.isFinite(outcome.loss) ? 'a gradient is not finite' : `the loss is ${outcome.loss}`;
    const where = `epoch ${epoch}, batch ${batch} of ${batches}`;
    if (this.policy === 'stop') {
      throw new NonFiniteLossError(
        `Training stopped: ${what} at ${where}; ${NonFiniteGuard.kept(epoch)}. ${this.advice}, or skip such batches (vaekit: --skip-nonfinite).`,
        epoch,
        batch,
        outcome.loss,
      );
    }
    if (++this.consecutive > this.maxConsecutiveSkips) {
      throw new NonFiniteLossError(
        `Training stopped: ${this.consecutive} updates in a row were skipped (${what} at ${where}); ${NonFiniteGuard.kept(epoch)}. ${this.advice}.`,
        epoch,
        batch,
        outcome.loss,
      );
    }
    this.hooks.onSkip?.({ epoch, batch, loss: outcome.loss });
    this.hooks.onNotice?.(`epoch ${epoch}, batch ${batch}: update skipped (loss ${outcome.loss}, or a gradient, is not finite)`);
    return false;
  }

  /** Throws when every batch of an epoch was skipped. */
  checkEpoch(epoch: number, batches: number, skipped: number): void {
    if (skipped < batches) return;
    throw new NonFiniteLossError(
      `Training stopped: every batch of epoch ${epoch} was skipped (non-finite loss or gradients); ${NonFiniteGuard.kept(epoch)}. ${this.advice}.`,
      epoch,
      batches,
      Number.NaN,
    );
  }

  /** Throws when the held-out loss after an epoch is not finite: such a checkpoint is never written. */
  checkHeldOut(epoch: number, batches: number, loss: number): void {
    if (Number.isFinite(loss)) return;
    throw new NonFiniteLossError(
      `Training stopped: the held-out loss after epoch ${epoch} is ${loss}; ${NonFiniteGuard.kept(epoch)}. ${this.advice}.`,
      epoch,
      batches,
      loss,
    );
  }
}

type HooksOf<K> = K extends TrainingKind<infer _C, infer _D, infer _M, infer _S, infer _E, infer _H, infer Line, infer Start, infer Batch> ? RunHooks<Start, Line, Batch> : RunHooks;
type ConfigOf<K> = K extends TrainingKind<infer C> ? C : RunConfigBase;
type LineOf<K> = K extends TrainingKind<infer _C, infer _D, infer _M, infer _S, infer _E, infer _H, infer Line> ? Line : unknown;

/**
 * Runs the epochs of `run` from `run.epoch + 1` to `run.config.epochs` with `kind`'s step, evaluation
 * and state, writing a checkpoint and a metrics line after each. Does not free the run's models (the
 * caller that built or restored them does).
 */
export async function runEpochs<K extends AnyTrainingKind>(
  kind: K,
  run: LoopRun<ConfigOf<K>>,
  hooks: HooksOf<K> = {} as HooksOf<K>,
  options: TrainOptions = {},
): Promise<RunResult<LineOf<K>>> {
  const h = hooks as RunHooks<object, unknown, object>;
  const guard = new NonFiniteGuard(options, kind.advice, h);
  const { config, runDir, history } = run;
  const started = performance.now() - run.priorSeconds * 1000;
  const count = kind.trainCount(run.data);
  const batches = Math.ceil(count / config.batchSize);
  const totalSteps = batches * config.epochs;
  h.onStart?.({ ...kind.startInfo(run), batchesPerEpoch: batches, epochs: config.epochs, startEpoch: run.epoch });
  let step = run.step;
  let stoppedEarly: string | undefined;
  for (let epoch = run.epoch + 1; epoch <= config.epochs; epoch++) {
    const epochStart = performance.now();
    // Shuffles and noise depend only on (seed, epoch, step), so a resumed run repeats an uninterrupted one.
    const order = permutation(count, createRng(shuffleSeed(config.seed, epoch)));
    const acc = kind.beginEpoch(run, epoch);
    let skipped = 0;
    for (let b = 0; b < batches; b++) {
      const ctx = {
        rows: order.slice(b * config.batchSize, (b + 1) * config.batchSize),
        epoch,
        batch: b + 1,
        batches,
        step,
        totalSteps,
        accept: (r: { loss: number; applied: boolean }) => guard.accept(r, epoch, b + 1, batches),
      };
      const outcome = await kind.step(run, acc, ctx);
      // The step counter advances for skipped batches too: noise seeds stay tied to (seed, step).
      step++;
      if (!guard.accept(outcome, epoch, b + 1, batches)) {
        skipped++;
        continue;
      }
      h.onBatch?.({ ...(outcome.batchInfo ?? {}), epoch, batch: b + 1, batches, loss: outcome.loss });
    }
    guard.checkEpoch(epoch, batches, skipped);
    const heldOut = await kind.evaluate(run, (done, total) => h.onEvalProgress?.(done, total));
    // Never save a checkpoint that cannot be good: the previous one stays the run's newest.
    guard.checkHeldOut(epoch, batches, kind.heldOutLoss(heldOut));
    const line = kind.metricsLine(run, acc, heldOut, { epoch, seconds: (performance.now() - epochStart) / 1000, skippedBatches: skipped });
    history.push(line);
    kind.endEpoch?.(run, acc, line, (m) => h.onNotice?.(m));
    const state: TrainState & Record<string, unknown> = {
      epoch,
      step,
      backend: tf.getBackend(),
      seconds: (performance.now() - started) / 1000,
      metrics: kind.stateMetrics(heldOut),
      history,
      ...(kind.stateKey ? { [kind.stateKey]: { ...(run.state as object) } } : {}),
    };
    await saveCheckpoint(runDir, { ...kind.checkpoint(run), state });
    await fs.appendFile(path.join(runDir, METRICS_FILE), JSON.stringify(line) + '\n');
    h.onEpoch?.(line);
    stoppedEarly = kind.stopReason?.(run);
    if (stoppedEarly) {
      h.onNotice?.(`Early stop after epoch ${epoch}: ${stoppedEarly}.`);
      break;
    }
  }
  return { runDir, epochs: history as LineOf<K>[], seconds: (performance.now() - started) / 1000, ...(stoppedEarly ? { stoppedEarly } : {}) };
}

/**
 * Trains a fresh run of `kind` into `runDir`: `config.json` (and the kind's own files), `metrics.jsonl`
 * and a checkpoint after every epoch.
 */
export async function trainRun<K extends AnyTrainingKind>(
  kind: K,
  config: ConfigOf<K>,
  runDir: string,
  hooks: HooksOf<K> = {} as HooksOf<K>,
  options: TrainOptions = {},
): Promise<RunResult<LineOf<K>>> {
  if (config.kind !== kind.kind) throw new TrainerError(`The configuration is of kind "${String(config.kind)}"; this trains kind "${kind.kind}".`);
  kind.validate(config);
  new NonFiniteGuard(options, kind.advice); // checks the options before anything is written
  const data = await kind.loadData(config);
  await fs.mkdir(runDir, { recursive: true });
  const models = await kind.build(config, data, runDir);
  try {
    await writeConfig(runDir, config as unknown as TrainConfig);
    await kind.writeRunFiles?.(runDir, config, data);
    await fs.writeFile(path.join(runDir, METRICS_FILE), '');
    const run: LoopRun<ConfigOf<K>> = { config, runDir, data, models, state: kind.initialState(config), epoch: 0, step: 0, history: [], priorSeconds: 0 };
    return await runEpochs(kind, run, hooks, options);
  } finally {
    // Training that stops (an error) must not leak the models' and optimizers' tensors either.
    kind.dispose(models);
  }
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? 'an' : 'a');

/**
 * Continues a run from its newest complete checkpoint (models, optimizers, the kind's state), up to
 * `options.epochs` (default: the run's configured count). With the same seed the result equals an
 * uninterrupted run. The kind is found by `config.kind` in the registry, or must be `kind` when given.
 * Removes temporaries of killed writers and rewrites `metrics.jsonl` from the checkpoint's history
 * (lines written after it, by a crash between the two writes, are dropped).
 */
export async function resumeRun<K extends AnyTrainingKind = AnyTrainingKind>(
  runDir: string,
  hooks: HooksOf<K> = {} as HooksOf<K>,
  options: { epochs?: number } & TrainOptions = {},
  expected?: K,
): Promise<RunResult<LineOf<K>>> {
  const checkpoint: Checkpoint = await loadCheckpoint(runDir);
  let kind: K;
  let run: LoopRun<ConfigOf<K>>;
  try {
    const savedKind = checkpoint.config.kind as string;
    if (expected && savedKind !== expected.kind) {
      throw new CheckpointError(`${runDir} is ${article(savedKind)} ${savedKind} run; resume it with \`vaekit train ${savedKind} --resume\`.`);
    }
    kind = expected ?? (trainingKind(savedKind) as K);
    const config = { ...checkpoint.config, ...(options.epochs ? { epochs: options.epochs } : {}) } as unknown as ConfigOf<K>;
    try {
      kind.validate(config);
    } catch (err) {
      // A bad value in the saved configuration is the run folder's fault: name the file.
      if (err instanceof TrainerError && !options.epochs) throw new CheckpointError(`${path.join(runDir, CONFIG_FILE)}: ${err.message}`);
      throw err;
    }
    new NonFiniteGuard(options, kind.advice);
    const data = await kind.loadData(config);
    await kind.checkResume?.(runDir, config, data);
    const models = await kind.restore(config, data, checkpoint, runDir);
    const state = checkpoint.state as TrainState & Record<string, unknown>;
    run = {
      config,
      runDir,
      data,
      models,
      state: (kind.stateKey ? state[kind.stateKey] : undefined) ?? kind.initialState(config),
      epoch: state.epoch,
      step: state.step,
      history: state.history ?? [],
      priorSeconds: state.seconds ?? 0,
    };
  } catch (err) {
    checkpoint.dispose();
    throw err;
  }
  checkpoint.disposeOptimizerState();
  try {
    // Files half-written by a run that was killed (temporary names) are garbage now.
    await removeStaleTemps(runDir);
    await removeStaleTemps(path.join(runDir, 'checkpoints'));
    await writeConfig(runDir, run.config as unknown as TrainConfig);
    await fs.writeFile(path.join(runDir, METRICS_FILE), run.history.map((m) => JSON.stringify(m) + '\n').join(''));
    return await runEpochs(kind, run, hooks, options);
  } finally {
    kind.dispose(run.models);
  }
}
