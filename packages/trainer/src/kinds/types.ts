/**
 * The training seam of a model kind. A kind (image, text, and any kind added later, even one defined in
 * a test file) supplies what differs: its configuration check, data, models and optimizers, one
 * optimizer step on a batch, held-out evaluation, its metrics line and its extra resumable state.
 * {@link runEpochs} (`../loop.ts`) does the rest the same way for every kind: shuffles and seeds
 * (core's `seeds.ts`), the non-finite guard, checkpoints, `metrics.jsonl`, progress hooks and resume.
 */
import type { Checkpoint, CheckpointContent } from '../checkpoint.js';

/** The fields of a run configuration that the shared loop reads (every kind's config has them). */
export interface RunConfigBase {
  /** The kind's name, as registered with `registerTrainingKind` and stored in `config.json`. */
  kind: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

/** What one optimizer step reports: the loss and whether the update was applied (finite). */
export interface StepOutcome<Batch extends object = object> {
  loss: number;
  applied: boolean;
  /** Extra fields for the `onBatch` hook (text: whether the encoder-only phase is on). */
  batchInfo?: Batch;
}

/** Where a step is in the run, and the guard for sub-updates a kind makes inside one step. */
export interface StepContext {
  /** Row indices of this batch into the kind's training set (a slice of the epoch's shuffle). */
  rows: number[];
  /** 1-based epoch and batch, and the batches per epoch. */
  epoch: number;
  batch: number;
  batches: number;
  /** 0-based optimizer step over the whole run (the noise seed's position, see core's `noiseSeed`). */
  step: number;
  /** Optimizer steps of the whole run (`batches * epochs`), for schedules. */
  totalSteps: number;
  /**
   * The run's non-finite guard for an extra update inside this step (text: the encoder-only updates):
   * true when it was applied, false when it was skipped; throws when training must stop.
   */
  accept(outcome: { loss: number; applied: boolean }): boolean;
}

/** The state of a run that a kind's methods read and change. */
export interface KindRun<C extends RunConfigBase, D, M, S> {
  config: C;
  runDir: string;
  /** What {@link TrainingKind.loadData} returned. */
  data: D;
  /** Models and optimizers, owned by the run (freed by {@link TrainingKind.dispose}). */
  models: M;
  /** The kind's resumable state, saved in each checkpoint's `state.json` under {@link TrainingKind.stateKey}. */
  state: S;
}

/**
 * A model kind's training spec. Type parameters: `C` configuration, `D` data, `M` models and
 * optimizers, `S` extra resumable state (JSON), `E` per-epoch accumulator, `H` held-out metrics,
 * `Line` one line of `metrics.jsonl`, `Start` extra `onStart` fields, `Batch` extra `onBatch` fields.
 */
export interface TrainingKind<
  C extends RunConfigBase = RunConfigBase,
  D = unknown,
  M = unknown,
  S = unknown,
  E = unknown,
  H = unknown,
  Line extends { epoch: number } = { epoch: number },
  Start extends object = object,
  Batch extends object = object,
> {
  /** The value of `config.kind` this spec trains. */
  readonly kind: string;
  /** What non-finite errors advise ("Lower the learning rate"). */
  readonly advice: string;
  /** The `state.json` field holding {@link KindRun.state} (absent: the kind has no extra state). */
  readonly stateKey?: string;
  /** Throws a `TrainerError` naming the bad field and the accepted values. */
  validate(config: C): void;
  /** Loads (and splits) the data a configuration names; deterministic for a configuration. */
  loadData(config: C): Promise<D>;
  /** Writes the run-folder files of a fresh run besides `config.json` (text: `tokenizer.json`). */
  writeRunFiles?(runDir: string, config: C, data: D): Promise<void>;
  /**
   * Builds fresh models and optimizers (a fresh run only; may read pretrained parts and write files of
   * its own into `runDir`, which exists by then).
   */
  build(config: C, data: D, runDir: string): M | Promise<M>;
  /** The extra state of a fresh run. */
  initialState(config: C): S;
  /**
   * Checks, before a resume, that the data still fits the run (text: the same vocabulary); throws
   * `CheckpointError` otherwise.
   */
  checkResume?(runDir: string, config: C, data: D): Promise<void>;
  /**
   * Takes the models out of a checkpoint and restores the optimizers (with `restoreAdam`); throws
   * `CheckpointError` when something needed is missing. The caller frees the checkpoint's optimizer
   * tensors afterwards, and everything in it when this throws.
   */
  restore(config: C, data: D, checkpoint: Checkpoint, runDir: string): Promise<M>;
  /** Training rows per epoch (the length of the epoch's shuffle). */
  trainCount(data: D): number;
  /** Extra fields of the `onStart` hook. */
  startInfo(run: KindRun<C, D, M, S>): Start;
  /** A fresh accumulator for one epoch. */
  beginEpoch(run: KindRun<C, D, M, S>, epoch: number): E;
  /**
   * One optimizer step on a batch; accumulates the epoch's sums into `acc` when the update is applied.
   * Draws its noise from `noiseSeed(config.seed, ctx.step)` (plus sub-step indices).
   */
  step(run: KindRun<C, D, M, S>, acc: E, ctx: StepContext): Promise<StepOutcome<Batch>>;
  /** Held-out evaluation after an epoch, seeded with core's `evalSeed`. */
  evaluate(run: KindRun<C, D, M, S>, onProgress: (done: number, total: number) => void): Promise<H>;
  /** The held-out loss that must be finite for a checkpoint to be written. */
  heldOutLoss(metrics: H): number;
  /** The epoch's line of `metrics.jsonl`. */
  metricsLine(run: KindRun<C, D, M, S>, acc: E, metrics: H, info: { epoch: number; seconds: number; skippedBatches: number }): Line;
  /** The held-out numbers saved as `state.json` `metrics`. */
  stateMetrics(metrics: H): Record<string, number>;
  /** Updates the extra state after an epoch (before its checkpoint is written); may report notices. */
  endEpoch?(run: KindRun<C, D, M, S>, acc: E, line: Line, notice: (message: string) => void): void;
  /** Why training stops after this epoch (early stopping), or undefined to go on. */
  stopReason?(run: KindRun<C, D, M, S>): string | undefined;
  /** What a checkpoint holds: the models and the optimizers. */
  checkpoint(run: KindRun<C, D, M, S>): CheckpointContent;
  /** Frees the models and optimizers. */
  dispose(models: M): void;
}

/** Any training kind (the registry's element type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTrainingKind = TrainingKind<any, any, any, any, any, any, any, any, any>;
