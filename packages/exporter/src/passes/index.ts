/**
 * The IR passes `convertLayersModel` runs after the handlers have written the graph, as one declared
 * list (like tfjs-converter's op tables: data, not call sites): clean-up, weight storage, then the
 * profile's checks and its file-only rewrite. A pass marked `fileOnly` runs on the written file but not
 * on the copy ONNX Runtime checks parity on (see `ConvertResult.parityBytes`).
 */
import type { ExportProfile, IrModel } from '../ir.js';
import { optimizeGraph } from './optimize.js';
import { assertProfileOps, writeDynamicDimsAsZero } from './profile.js';
import { applyWeightDtype, type WeightDtype } from './weight-dtype.js';

/** What every pass may depend on. */
export interface PassOptions {
  dtype: WeightDtype;
  profile: ExportProfile;
}

/** One rewrite (or check) of a converted model, in place. */
export interface IrPass {
  name: string;
  /** Runs on the file only, after the parity copy was serialized. */
  fileOnly?: boolean;
  run(model: IrModel, opts: PassOptions): void;
}

/** The passes, in the order they run. */
export const PASSES: readonly IrPass[] = [
  { name: 'optimize', run: (m) => void optimizeGraph(m.graph) },
  { name: 'weight-dtype', run: (m, o) => void applyWeightDtype(m, o.dtype) },
  { name: 'profile-ops', run: (m, o) => assertProfileOps(m, o.profile) },
  { name: 'profile-dims', fileOnly: true, run: (m, o) => (o.profile === 'webgl' ? writeDynamicDimsAsZero(m) : undefined) },
];

/** Runs the passes of one phase (`fileOnly` false: before the parity copy; true: after it). */
export function runPasses(model: IrModel, opts: PassOptions, fileOnly: boolean): void {
  for (const p of PASSES) if ((p.fileOnly ?? false) === fileOnly) p.run(model, opts);
}
