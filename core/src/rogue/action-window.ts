// The action window itself is part of each agent's record (agent-signals.ts); these are its shared tables
// and the entropy signal.

const tables = new Map<number, Float64Array>();
const log2Tables = new Map<number, Float64Array>();

/** log2(n) for n = 0..capacity (the entropy of a full window reads it on every action). */
export function log2Table(capacity: number): Float64Array {
  let table = log2Tables.get(capacity);
  if (table === undefined) {
    table = new Float64Array(capacity + 1);
    for (let n = 1; n <= capacity; n++) table[n] = Math.log2(n);
    log2Tables.set(capacity, table);
  }
  return table;
}

/** x·log2(x) for x = 0..capacity, shared between windows of the same capacity. */
export function xLog2xTable(capacity: number): Float64Array {
  let table = tables.get(capacity);
  if (table === undefined) {
    table = new Float64Array(capacity + 1);
    for (let x = 1; x <= capacity; x++) table[x] = x * Math.log2(x);
    tables.set(capacity, table);
  }
  return table;
}

/**
 * Entropy signal in [0, 1]. Below `lowBits` the agent repeats itself (a loop): score (low − H) / low.
 * Above `highBits` it acts chaotically: score (H − high) / (maxBits − high), where `maxBits` is the largest
 * entropy the window can hold, log2(window size). In between: 0.
 */
export function entropyScore(bits: number, lowBits: number, highBits: number, maxBits: number): number {
  if (bits < lowBits) return (lowBits - bits) / lowBits;
  if (bits > highBits) return Math.min(1, (bits - highBits) / (maxBits - highBits));
  return 0;
}
