/**
 * The last N actions of one agent: a ring of action labels with incremental counts, giving the Shannon
 * entropy of the window in O(1) per action, plus how many of those actions were capability violations.
 *
 * With counts c_i over n actions, H = log2(n) − (1/n)·Σ c_i·log2(c_i). The sum Σ c·log2 c is kept
 * incrementally from a precomputed table; it is recomputed from the counts once per N actions so
 * floating-point drift cannot accumulate (O(distinct) ≤ O(N) every N actions: O(1) amortised).
 */
export class ActionWindow {
  /**
   * One typed array (one byte per cell for windows up to 255 actions) in three sections of `capacity` cells:
   * the window as a ring of label slots, then each slot's count, then the free-slot chain. A label string is
   * kept once per distinct label in the window (`#slotLabels`), not once per action. A slot whose count drops
   * to 0 is freed and reused by the next new label, so there are never more slots than distinct labels the
   * window has held at once (≤ capacity).
   */
  readonly #cells: Uint8Array | Uint16Array | Uint32Array;
  readonly #capacity: number;
  /** Allocated at the first violation (most agents never have one). */
  #violations: Uint8Array | undefined;
  readonly #slotLabels: Array<string | undefined> = [];
  /** First free slot (`capacity`: none); each free slot's cell in the third section links to the next. */
  #freeHead: number;
  /** Label → slot, once more than `SMALL_LABELS` slots exist; below that a scan of `#slotLabels` is cheaper. */
  #slotOf: Map<string, number> | undefined;
  readonly #xLog2x: Float64Array;
  readonly #log2: Float64Array;
  #head = 0;
  #size = 0;
  #sumCountLog2Count = 0;
  #violationCount = 0;
  #pushesSinceResync = 0;

  constructor(capacity: number) {
    // Cells hold slot ids and counts (≤ capacity) and the "no free slot" mark (= capacity).
    this.#cells =
      capacity <= 0xff
        ? new Uint8Array(3 * capacity)
        : capacity <= 0xffff
          ? new Uint16Array(3 * capacity)
          : new Uint32Array(3 * capacity);
    this.#capacity = capacity;
    this.#freeHead = capacity;
    this.#violations = undefined;
    this.#slotOf = undefined;
    this.#xLog2x = xLog2xTable(capacity);
    this.#log2 = log2Table(capacity);
  }

  /** Adds an action; the oldest one falls out once the window is full. */
  push(label: string, violation: boolean): void {
    const cells = this.#cells;
    const capacity = this.#capacity;
    const head = this.#head;
    if (this.#size === capacity) {
      this.#decrement(cells[head] as number);
      if (this.#violations !== undefined) this.#violationCount -= this.#violations[head] as number;
    } else {
      this.#size++;
    }
    cells[head] = this.#increment(label);
    if (violation) {
      this.#violations ??= new Uint8Array(capacity);
      this.#violations[head] = 1;
      this.#violationCount++;
    } else if (this.#violations !== undefined) {
      this.#violations[head] = 0;
    }
    this.#head = head + 1 === capacity ? 0 : head + 1;

    if (++this.#pushesSinceResync >= capacity) this.#resync();
  }

  /** Counts one more action with `label`; returns its slot. */
  #increment(label: string): number {
    const labels = this.#slotLabels;
    const cells = this.#cells;
    const countsAt = this.#capacity;
    let slot = this.#slotOf === undefined ? labels.indexOf(label) : (this.#slotOf.get(label) ?? -1);
    let count = 0;
    if (slot >= 0) {
      count = cells[countsAt + slot] as number;
    } else {
      slot = this.#freeHead;
      if (slot === this.#capacity) {
        slot = labels.length;
        labels.push(label);
      } else {
        this.#freeHead = cells[2 * countsAt + slot] as number;
        labels[slot] = label;
      }
      if (this.#slotOf !== undefined) this.#slotOf.set(label, slot);
      else if (labels.length > SMALL_LABELS) {
        this.#slotOf = new Map();
        for (let i = 0; i < labels.length; i++) {
          const known = labels[i];
          if (known !== undefined) this.#slotOf.set(known, i);
        }
      }
    }
    cells[countsAt + slot] = count + 1;
    this.#sumCountLog2Count += (this.#xLog2x[count + 1] as number) - (this.#xLog2x[count] as number);
    return slot;
  }

  #decrement(slot: number): void {
    const cells = this.#cells;
    const countAt = this.#capacity + slot;
    const count = cells[countAt] as number;
    cells[countAt] = count - 1;
    if (count === 1) {
      this.#slotOf?.delete(this.#slotLabels[slot] as string);
      // undefined, not the label: a freed slot must not match a lookup (and holds no string alive).
      this.#slotLabels[slot] = undefined;
      cells[2 * this.#capacity + slot] = this.#freeHead;
      this.#freeHead = slot;
    }
    this.#sumCountLog2Count += (this.#xLog2x[count - 1] as number) - (this.#xLog2x[count] as number);
  }

  #resync(): void {
    this.#pushesSinceResync = 0;
    let sum = 0;
    const cells = this.#cells;
    for (let slot = 0; slot < this.#slotLabels.length; slot++) {
      sum += this.#xLog2x[cells[this.#capacity + slot] as number] as number;
    }
    this.#sumCountLog2Count = sum;
  }

  /** Actions currently in the window. */
  get size(): number {
    return this.#size;
  }

  /** Distinct labels in the window. */
  get distinctLabels(): number {
    let free = 0;
    for (
      let slot = this.#freeHead;
      slot !== this.#capacity;
      slot = this.#cells[2 * this.#capacity + slot] as number
    )
      free++;
    return this.#slotLabels.length - free;
  }

  /** Label slots allocated (at most the distinct labels the window held at once; for tests). */
  get slots(): number {
    return this.#slotLabels.length;
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
    this.#cells.fill(0);
    this.#violations = undefined;
    this.#slotOf = undefined;
    this.#slotLabels.length = 0;
    this.#freeHead = this.#capacity;
    this.#head = 0;
    this.#size = 0;
    this.#sumCountLog2Count = 0;
    this.#violationCount = 0;
    this.#pushesSinceResync = 0;
  }
}

/** Label slots found by scanning before the window keeps a Map from label to slot. */
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
