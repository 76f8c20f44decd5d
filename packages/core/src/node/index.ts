/** `@vaekit/core/node`: the `fs` side of the formats (atomic writes, run folders). Node only. */
export * from './fs-atomic.js';
export * from './run-folder.js';
