/** Parsers for command-line values; each rejects bad input with a message naming what is accepted. */
import { InvalidArgumentError } from 'commander';

/** Parses an integer in [min, max]. */
export function intIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[-+]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Parses a positive integer (at most `max`). */
export const positiveInt = (max = 1_000_000) => intIn(1, max);

/** Parses a finite number in [min, max]. */
export function numberIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Parses one of a fixed set of words. */
export function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`Should be one of: ${choices.join(', ')}.`);
    }
    return value as T;
  };
}

/** Parses a comma-separated list of positive integers, e.g. `512,256`. */
export function intList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const parse = positiveInt(100_000);
  return parts.map((p) => parse(p));
}
