/** The built-in handler set. */
import { activationHandlers } from './activation.js';
import { convHandlers } from './conv.js';
import { coreHandlers } from './core.js';
import { mergeHandlers } from './merge.js';
import { normalizationHandlers } from './normalization.js';
import { poolingHandlers } from './pooling.js';
import { recurrentHandlers } from './recurrent.js';
import { HandlerRegistry } from './registry.js';

/** A new registry holding every built-in handler (core, activation, conv, recurrent, merge, pooling, normalization families). */
export function createDefaultRegistry(): HandlerRegistry {
  return new HandlerRegistry().register(...coreHandlers, ...activationHandlers, ...convHandlers, ...recurrentHandlers, ...mergeHandlers, ...poolingHandlers, ...normalizationHandlers);
}

/** The registry {@link convertLayersModel} uses unless given another. */
export const defaultRegistry: HandlerRegistry = createDefaultRegistry();
