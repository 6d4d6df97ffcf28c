/**
 * The last N actions of one agent: a ring of action labels with incremental counts, giving the Shannon
 * entropy of the window in O(1) per action, plus how many of those actions were capability violations.
 *
 * With counts c_i over n actions, H = log2(n) − (1/n)·Σ c_i·log2(c_i). The sum Σ c·log2 c is kept
 * incrementally from a precomputed table; it is recomputed from the counts once per N actions so
 * floating-point drift cannot accumulate (O(distinct) ≤ O(N) every N actions: O(1) amortised).
 */
export class ActionWindow {
  readonly #labels: Array<string | undefined>;
  /** Allocated at the first violation (most agents never have one). */
  #violations: Uint8Array | undefined;
  readonly #counts = new Map<string, number>();
  readonly #xLog2x: Float64Array;
  readonly #log2: Float64Array;
  #head = 0;
  #size = 0;
  #sumCountLog2Count = 0;
  #violationCount = 0;
  #pushesSinceResync = 0;

  constructor(capacity: number) {
    this.#labels = new Array<string | undefined>(capacity).fill(undefined);
    this.#violations = undefined;
    this.#xLog2x = xLog2xTable(capacity);
    this.#log2 = log2Table(capacity);
  }

  /** Adds an action; the oldest one falls out once the window is full. */
  push(label: string, violation: boolean): void {
    const capacity = this.#labels.length;
    if (this.#size === capacity) {
      const evicted = this.#labels[this.#head] as string;
      this.#decrement(evicted);
      if (this.#violations !== undefined) this.#violationCount -= this.#violations[this.#head] as number;
    } else {
      this.#size++;
    }
    this.#labels[this.#head] = label;
    if (violation) {
      this.#violations ??= new Uint8Array(capacity);
      this.#violations[this.#head] = 1;
      this.#violationCount++;
    } else if (this.#violations !== undefined) {
      this.#violations[this.#head] = 0;
    }
    this.#increment(label);
    this.#head = (this.#head + 1) % capacity;

    if (++this.#pushesSinceResync >= capacity) this.#resync();
  }

  #increment(label: string): void {
    const count = this.#counts.get(label) ?? 0;
    this.#counts.set(label, count + 1);
    this.#sumCountLog2Count += (this.#xLog2x[count + 1] as number) - (this.#xLog2x[count] as number);
  }

  #decrement(label: string): void {
    const count = this.#counts.get(label) as number;
    if (count === 1) this.#counts.delete(label);
    else this.#counts.set(label, count - 1);
    this.#sumCountLog2Count += (this.#xLog2x[count - 1] as number) - (this.#xLog2x[count] as number);
  }

  #resync(): void {
    this.#pushesSinceResync = 0;
    let sum = 0;
    for (const count of this.#counts.values()) sum += this.#xLog2x[count] as number;
    this.#sumCountLog2Count = sum;
  }

  /** Actions currently in the window. */
  get size(): number {
    return this.#size;
  }

  /** Distinct labels in the window. */
  get distinctLabels(): number {
    return this.#counts.size;
  }

  /** Capability violations among the actions in the window. */
  get violationCount(): number {
    return this.#violationCount;
  }

  /** Shannon entropy of the labels in the window, in bits (0 when empty). */
  get entropyBits(): number {
    const n = this.#size;
    if (n === 0) return 0;
    const bits = (this.#log2[n] as number) - this.#sumCountLog2Count / n;
    // Clamp rounding noise (e.g. −1e−16 for a single repeated label).
    return bits < 1e-12 ? 0 : bits;
  }

  clear(): void {
    this.#labels.fill(undefined);
    this.#violations = undefined;
    this.#counts.clear();
    this.#head = 0;
    this.#size = 0;
    this.#sumCountLog2Count = 0;
    this.#violationCount = 0;
    this.#pushesSinceResync = 0;
  }
}

const tables = new Map<number, Float64Array>();
const log2Tables = new Map<number, Float64Array>();

/** log2(n) for n = 0..capacity (the entropy of a full window reads it on every action). */
function log2Table(capacity: number): Float64Array {
  let table = log2Tables.get(capacity);
  if (table === undefined) {
    table = new Float64Array(capacity + 1);
    for (let n = 1; n <= capacity; n++) table[n] = Math.log2(n);
    log2Tables.set(capacity, table);
  }
  return table;
}

/** x·log2(x) for x = 0..capacity, shared between windows of the same capacity. */
function xLog2xTable(capacity: number): Float64Array {
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
