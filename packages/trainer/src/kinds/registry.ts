/**
 * The training kinds by `config.kind`, so that `resumeRun` (and the CLI) find a run's kind from its
 * folder, and checkpoints accept the configurations of registered kinds. This module imports no kind:
 * the built-in kinds (image, text, classifier) register themselves in `builtin.ts`, which the loop
 * imports; another kind registers itself with {@link registerTrainingKind} (from its own module, or a
 * test file) and needs no change here. Keeping the kinds out of this module keeps the checkpoint module,
 * which the kinds use, free of an import cycle through them.
 */
import { TrainerError } from '../errors.js';
import type { AnyTrainingKind } from './types.js';

const kinds = new Map<string, AnyTrainingKind>();

/** Registers a training kind under its `kind` name; registering a name twice throws. */
export function registerTrainingKind(kind: AnyTrainingKind): void {
  if (kinds.has(kind.kind)) throw new TrainerError(`A training kind "${kind.kind}" is already registered.`, { userError: false });
  kinds.set(kind.kind, kind);
}

/** The training kind registered as `name`; throws naming the registered ones when there is none. */
export function trainingKind(name: string): AnyTrainingKind {
  const kind = kinds.get(name);
  if (!kind) throw new TrainerError(`Unknown training kind "${name}". Should be one of: ${[...kinds.keys()].join(', ')}.`);
  return kind;
}

/** The names of the registered training kinds, in registration order. */
export function trainingKinds(): string[] {
  return [...kinds.keys()];
}
