/** `vaekit serve-demo`: placeholder replaced below. */
import type { Command } from 'commander';
/** Registers `vaekit serve-demo`. */
export function registerServeDemo(_program: Command): void {}
