import { log2Table, xLog2xTable } from "./action-window.js";
import { LabelIds } from "./label-ids.js";
import { LoopShape } from "./loop-table.js";
import type { ResolvedRogueDetectorOptions } from "./options.js";
import { type SlabCells, SlabPool } from "./slab.js";

/** Bytes before a block's label ids: its two doubles (the last action's time, the entropy sum). */
export const DOUBLES_BYTES = 16;
/** Label slots a record starts with (fewer when the window is shorter); doubled as more labels are in it at once. */
const FIRST_SLOTS = 8;
/** `burstCount` while the frequency signal cannot score (too little history): no count reaches it. */
export const NO_BURST = 2 ** 30;

/**
 * What every agent's record of one detector shares: sizes, cell offsets and lookup tables — its loop table's
 * too (a record is its own loop table): one object, so a record keeps one shape field, 8 bytes fewer on the
 * lines a call of an agent among thousands misses, and reads its shape without a hop.
 */
export class SignalShape extends LoopShape {
  /** Actions in the sliding window (the entropy window). */
  readonly capacity: number;
  /**
   * Per count of label slots used (0 … `capacity`), the slots of a block that holds them: 8, 16, … (at most
   * `capacity`; a record starts with 8 and doubles). A packed array of small integers: a call's lookup is a
   * load, where computing it (a `clz32`, a `Math.min` in floating point) took ~15 instructions and V8's
   * inlining budget of the action window's hot path.
   */
  readonly slotsFor: number[] = [];
  /** The frequency windows' length (`windowMs` is the loop window's). */
  readonly frequencyWindowMs: number;
  /** Completed frequency windows kept. */
  readonly historyWindows: number;
  /** The detector's z threshold and minimum history, for `burstCount` (unset: it stays `NO_BURST`). */
  readonly zThreshold: number;
  readonly minWindows: number;
  /** Cells per history count: two bytes in one-byte cells, else one cell. */
  readonly historyCells: number;
  /** Where the history starts in a record's cells, from its ring (the history follows the action ring). */
  readonly historyAt: number;
  readonly bytesPerCell: number;
  /** Cells of a record's block after its slots: the action ring and the history. */
  readonly tailCells: number;
  /** The detector's label ids (a block keeps a slot's label as an id). */
  readonly labels = new LabelIds();
  readonly xLog2x: Float64Array;
  readonly log2: Float64Array;
  /**
   * Per window size n, the entropy sums (Σ c·log2 c) for which the entropy signal surely scores 0: H within
   * [low, high] with a margin for rounding, or n below the minimum actions (unset options: no such sum).
   */
  readonly quietSumMin: Float64Array;
  readonly quietSumMax: Float64Array;
  /**
   * Per window size n, the least entropy sum from which `entropyBits` is surely 0 (it clamps below 1e-12: the
   * window holds one label, as an agent repeating one tool): the entropy score is then the one of 0 bits, a
   * constant — no division. +Infinity below the minimum actions (or with the options unset).
   */
  readonly oneLabelSumMin: Float64Array;
  /** One pool of record blocks per label-slot count (8, 16, … `capacity`). */
  readonly #pools = new Map<number, SlabPool<SlabCells>>();

  constructor(
    options: Pick<
      ResolvedRogueDetectorOptions,
      | "entropyWindowSize"
      | "frequencyWindowMs"
      | "frequencyHistoryWindows"
      | "loopRepeats"
      | "loopWindowMs"
      | "loopTableSize"
    > &
      Partial<
        Pick<
          ResolvedRogueDetectorOptions,
          | "frequencyZThreshold"
          | "frequencyMinWindows"
          | "entropyLowBits"
          | "entropyHighBits"
          | "entropyMinActions"
        >
      >,
  ) {
    super(options.loopRepeats, options.loopWindowMs, options.loopTableSize);
    this.capacity = options.entropyWindowSize;
    for (let count = 0; count <= this.capacity; count++) {
      const power = count <= FIRST_SLOTS ? FIRST_SLOTS : 1 << (32 - Math.clz32(count - 1));
      this.slotsFor.push(Math.min(power, this.capacity));
    }
    this.frequencyWindowMs = options.frequencyWindowMs;
    this.historyWindows = options.frequencyHistoryWindows;
    this.zThreshold = options.frequencyZThreshold ?? Number.POSITIVE_INFINITY;
    this.minWindows = options.frequencyMinWindows ?? NO_BURST;
    this.historyCells = this.capacity <= 0xff ? 2 : 1;
    this.bytesPerCell = this.capacity <= 0xff ? 1 : this.capacity <= 0xffff ? 2 : 4;
    this.historyAt = this.capacity;
    this.tailCells = this.capacity + this.historyWindows * this.historyCells;
    this.xLog2x = xLog2xTable(this.capacity);
    this.log2 = log2Table(this.capacity);
    this.quietSumMin = new Float64Array(this.capacity + 1).fill(Number.POSITIVE_INFINITY);
    this.quietSumMax = new Float64Array(this.capacity + 1).fill(Number.NEGATIVE_INFINITY);
    this.oneLabelSumMin = new Float64Array(this.capacity + 1).fill(Number.POSITIVE_INFINITY);
    const { entropyLowBits: low, entropyHighBits: high, entropyMinActions: minActions } = options;
    if (low !== undefined && high !== undefined && minActions !== undefined) {
      for (let n = 0; n <= this.capacity; n++) {
        if (n >= minActions && n > 0) this.oneLabelSumMin[n] = this.oneLabelSumFrom(n);
        if (n < minActions) {
          this.quietSumMin[n] = Number.NEGATIVE_INFINITY;
          this.quietSumMax[n] = Number.POSITIVE_INFINITY;
        } else {
          // H = log2 n − sum / n ∈ [low, high] ⟺ sum ∈ [n·(log2 n − high), n·(log2 n − low)]; the margin keeps
          // sums near either edge on the exact path.
          const log2n = this.log2[n] as number;
          const margin = 1e-7 * (1 + n * log2n);
          this.quietSumMin[n] = n * (log2n - high) + margin;
          this.quietSumMax[n] = n * (log2n - low) - margin;
        }
      }
    }
  }

  /**
   * `oneLabelSumMin[n]`: a sum half a 1e-12 of bits inside the clamp (a window of one label sums to
   * n·log2 n, its rounding far below that), kept only if `entropyBits`' own arithmetic clamps it — then every
   * larger sum clamps too (the quotient and the difference round monotonically).
   */
  private oneLabelSumFrom(n: number): number {
    const log2n = this.log2[n] as number;
    const sum = n * (log2n - 0.5e-12);
    return log2n - sum / n < 1e-12 ? sum : Number.POSITIVE_INFINITY;
  }

  /** The records' loop tables' shape: this one. */
  get loops(): LoopShape {
    return this;
  }

  /**
   * The pool of blocks for records with `slots` label slots. A block: the two doubles, then per slot its
   * label id (4 bytes), then per slot its count and free-chain link (a cell each), then the action ring and
   * the history — what a call reads (the doubles, the ids, the counts) in the block's first bytes.
   */
  recordPoolFor(slots: number): SlabPool<SlabCells> {
    let pool = this.#pools.get(slots);
    if (pool === undefined) {
      // Cells hold slot numbers and counts (≤ capacity) and the "no free slot" mark (= capacity).
      const bytes = this.bytesPerCell;
      // Rounded up to whole 8 bytes.
      const cellsPer8 = 8 / bytes;
      const blockCells =
        Math.ceil((this.headCells(slots) + 2 * slots + this.tailCells) / cellsPer8) * cellsPer8;
      const make =
        bytes === 1
          ? (length: number) => new Uint8Array(length)
          : bytes === 2
            ? (length: number) => new Uint16Array(length)
            : (length: number) => new Uint32Array(length);
      pool = new SlabPool<SlabCells>(blockCells, bytes, make, true);
      this.#pools.set(slots, pool);
    }
    return pool;
  }

  /** Cells before the counts in a block of `slots` slots: the doubles and the label ids. */
  headCells(slots: number): number {
    return (DOUBLES_BYTES + 4 * slots) / this.bytesPerCell;
  }

  /** Record blocks handed out over all slot counts (for tests; `blocksInUse`: the loop tables'). */
  get recordBlocksInUse(): number {
    let blocks = 0;
    for (const pool of this.#pools.values()) blocks += pool.blocksInUse;
    return blocks;
  }
}
