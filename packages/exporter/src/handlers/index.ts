/** The built-in handler set. */
import { activationHandlers } from './activation.js';
import { attentionHandlers } from './attention.js';
import { convHandlers } from './conv.js';
import { coreHandlers } from './core.js';
import { embeddingHandlers } from './embedding.js';
import { mergeHandlers } from './merge.js';
import { normalizationHandlers } from './normalization.js';
import { poolingHandlers } from './pooling.js';
import { recurrentHandlers } from './recurrent.js';
import { HandlerRegistry, type LayerHandler } from './registry.js';

/** The built-in handlers by family (one file each), in registration order. */
export const HANDLER_FAMILIES: Readonly<Record<string, readonly LayerHandler[]>> = {
  core: coreHandlers,
  activation: activationHandlers,
  conv: convHandlers,
  recurrent: recurrentHandlers,
  embedding: embeddingHandlers,
  merge: mergeHandlers,
  pooling: poolingHandlers,
  normalization: normalizationHandlers,
  attention: attentionHandlers,
};

/** A new registry holding every built-in handler (the families of {@link HANDLER_FAMILIES}). */
export function createDefaultRegistry(): HandlerRegistry {
  return new HandlerRegistry().register(...Object.values(HANDLER_FAMILIES).flat());
}

/** The registry {@link convertLayersModel} uses unless given another. */
export const defaultRegistry: HandlerRegistry = createDefaultRegistry();
