/** Small checks shared by the manifest parser and the kinds' section checks. */

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for an integer > 0. */
export function isPositiveInt(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) > 0;
}
