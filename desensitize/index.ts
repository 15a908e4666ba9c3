/**
 * Pure data-protection logic: identifier formats and checks, masks compiled to DuckDB SQL with
 * TypeScript references. No I/O, no clock, no logging.
 */
export * from './identifiers.js';
export { FULLY_MASKED, MASK_KINDS, MASKS, keepFirstLast, type MaskKind, type MaskRule } from './masks.js';
