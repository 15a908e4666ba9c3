import type { CellOrder } from './answer-shape.js';

/*
 * The order of a prod answer ordered by one of its aggregate columns (`CellOrder`), applied after
 * the checks to the values they let through, so that a withheld cell never orders its row.
 */

/**
 * An answer ordered by an aggregate column (`CellOrder`), as shown: read in the order of its keys,
 * it is ordered here by the values shown there (stable: ties keep the keys' order, as the query's
 * ORDER BY with the keys after it would), and the rows whose cell is null (withheld, or null in the
 * data) go last (or first with NULLS FIRST), by their keys' text.
 * SECURITY: invariant 8: nothing here reads a withheld value, so neither the order nor what
 * secondary suppression and LIMIT take (both follow the keys' order before this) can rank one.
 */
export function placedByShownCells(order: CellOrder | undefined, rows: unknown[][], keys: readonly string[]): unknown[][] {
  if (!order) return rows;
  const shown = rows.filter((row) => row[order.column] !== null);
  const nulls = rows.map((row, i) => ({ row, key: keys[i]! })).filter(({ row }) => row[order.column] === null);
  shown.sort((a, b) => (order.descending ? -1 : 1) * compareShown(a[order.column], b[order.column]));
  const placed = nulls.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((n) => n.row);
  return order.nullsFirst ? [...placed, ...shown] : [...shown, ...placed];
}

/**
 * Two shown cells of an aggregate column as DuckDB orders them: numbers (JSON numbers, or the exact
 * decimal text of BIGINT, HUGEINT and DECIMAL) by value, NaN above Infinity; booleans false first;
 * anything else by its text.
 */
export function compareShown(a: unknown, b: unknown): number {
  const x = numericOf(a);
  const y = numericOf(b);
  if (x && y) return compareNumeric(x, y);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const [p, q] = [JSON.stringify(a), JSON.stringify(b)];
  return p < q ? -1 : p > q ? 1 : 0;
}

type Numeric = { special: number } | { negative: boolean; integer: bigint; fraction: string };

/** A cell as a number: `special` for -Infinity (-1), Infinity (1) and NaN (2), else its exact decimal parts. */
function numericOf(value: unknown): Numeric | undefined {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { special: 2 };
    if (!Number.isFinite(value)) return { special: value > 0 ? 1 : -1 };
    // A non-integer double is below 2^53, so fixed notation holds it whole.
    return Number.isInteger(value) ? { negative: value < 0, integer: BigInt(Math.abs(value)), fraction: '' } : numericOf(value.toFixed(20));
  }
  if (typeof value !== 'string') return undefined;
  if (/^-?nan$/i.test(value)) return { special: 2 };
  if (/^\+?(infinity|inf)$/i.test(value)) return { special: 1 };
  if (/^-(infinity|inf)$/i.test(value)) return { special: -1 };
  const match = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(value);
  if (match) return { negative: match[1] === '-', integer: BigInt(match[2]!), fraction: (match[3] ?? '').replace(/0+$/, '') };
  // Exponent notation: through the double it reads as.
  const number = value.trim() === '' ? Number.NaN : Number(value);
  return Number.isNaN(number) ? undefined : numericOf(number);
}

function compareNumeric(x: Numeric, y: Numeric): number {
  if ('special' in x) return 'special' in y ? x.special - y.special : Math.sign(x.special);
  if ('special' in y) return -Math.sign(y.special);
  const sign = (n: typeof x) => (n.integer === 0n && n.fraction === '' ? 0 : n.negative ? -1 : 1);
  if (sign(x) !== sign(y)) return sign(x) - sign(y);
  let magnitude = x.integer === y.integer ? 0 : x.integer < y.integer ? -1 : 1;
  if (magnitude === 0) {
    const width = Math.max(x.fraction.length, y.fraction.length);
    const [f, g] = [x.fraction.padEnd(width, '0'), y.fraction.padEnd(width, '0')];
    magnitude = f === g ? 0 : f < g ? -1 : 1;
  }
  return sign(x) < 0 ? -magnitude : magnitude;
}
