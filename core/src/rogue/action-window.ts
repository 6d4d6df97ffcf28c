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
  /**
   * Counts per label: a few labels (the usual handful of tools) in two small arrays scanned in place — no
   * hashing, no Map per agent — and a Map once more than `SMALL_LABELS` distinct labels are in the window.
   */
  readonly #smallLabels: string[] = [];
  readonly #smallCounts: number[] = [];
  #counts: Map<string, number> | undefined;
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
    let count: number;
    const counts = this.#counts;
    if (counts === undefined) {
      const labels = this.#smallLabels;
      const index = labels.indexOf(label);
      if (index >= 0) {
        count = this.#smallCounts[index] as number;
        this.#smallCounts[index] = count + 1;
      } else if (labels.length < SMALL_LABELS) {
        count = 0;
        labels.push(label);
        this.#smallCounts.push(1);
      } else {
        this.#counts = new Map(labels.map((known, i) => [known, this.#smallCounts[i] as number]));
        labels.length = 0;
        this.#smallCounts.length = 0;
        this.#increment(label);
        return;
      }
    } else {
      count = counts.get(label) ?? 0;
      counts.set(label, count + 1);
    }
    this.#sumCountLog2Count += (this.#xLog2x[count + 1] as number) - (this.#xLog2x[count] as number);
  }

  #decrement(label: string): void {
    let count: number;
    const counts = this.#counts;
    if (counts === undefined) {
      const labels = this.#smallLabels;
      const index = labels.indexOf(label);
      count = this.#smallCounts[index] as number;
      if (count === 1) {
        // Swap-remove: order does not matter.
        const last = labels.length - 1;
        labels[index] = labels[last] as string;
        this.#smallCounts[index] = this.#smallCounts[last] as number;
        labels.pop();
        this.#smallCounts.pop();
      } else {
        this.#smallCounts[index] = count - 1;
      }
    } else {
      count = counts.get(label) as number;
      if (count === 1) counts.delete(label);
      else counts.set(label, count - 1);
    }
    this.#sumCountLog2Count += (this.#xLog2x[count - 1] as number) - (this.#xLog2x[count] as number);
  }

  #resync(): void {
    this.#pushesSinceResync = 0;
    let sum = 0;
    const counts = this.#counts;
    if (counts === undefined) for (const count of this.#smallCounts) sum += this.#xLog2x[count] as number;
    else for (const count of counts.values()) sum += this.#xLog2x[count] as number;
    this.#sumCountLog2Count = sum;
  }

  /** Actions currently in the window. */
  get size(): number {
    return this.#size;
  }

  /** Distinct labels in the window. */
  get distinctLabels(): number {
    return this.#counts === undefined ? this.#smallLabels.length : this.#counts.size;
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
    this.#counts = undefined;
    this.#smallLabels.length = 0;
    this.#smallCounts.length = 0;
    this.#head = 0;
    this.#size = 0;
    this.#sumCountLog2Count = 0;
    this.#violationCount = 0;
    this.#pushesSinceResync = 0;
  }
}

/** Distinct labels counted in arrays before the window switches to a Map. */
const SMALL_LABELS = 16;

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
