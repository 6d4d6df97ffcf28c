import { MAX_WINDOW_COUNT } from "./frequency.js";
import { NO_LABEL } from "./label-ids.js";
import { LoopTable } from "./loop-table.js";
import type { RiskLevel } from "./risk.js";
import { SignalMarks, SignalsMore } from "./signal-parts.js";
import { DOUBLES_BYTES, NO_BURST, type SignalShape } from "./signal-shape.js";
import { Slab, type SlabCells } from "./slab.js";

export { SignalShape } from "./signal-shape.js";

/** Label slots found by scanning before the record keeps a Map from label to slot. */
const SMALL_LABELS = 16;
/** `currentWindow` before the first action: below any window of a real time (and a small integer for V8). */
const NO_WINDOW = -(2 ** 30);
/** A released record's slab (room for its two doubles: a retired record's accessors stay in bounds). */
const NO_SLAB: Slab<SlabCells> = new Slab(new Uint8Array(16), 1, true);
/** "No loop yet" (a small bytecode: the getter that returns it is inlined into the detector's hot path). */
const NEVER = Number.NEGATIVE_INFINITY;

/**
 * Where a block's label ids start in its slab's `words`, from `n` (its doubles' index in `numbers`): after
 * the two doubles. Derived, not a field: a field fewer on the lines a call reads.
 */
const IDS_AFTER_N = DOUBLES_BYTES / 4;
const idsAtOf = (n: number) => 2 * n + IDS_AFTER_N;

/** The detector's per-agent state, opaque to holders (see `RogueAgentDetector.signalsOf`). */
export interface AgentSignalsHandle {
  readonly retired: boolean;
}

/**
 * Everything the detector knows about one agent, in one object and one block of a slab (plus the loop
 * table's block: the object is its own loop table, `LoopTable`'s fields first), so an agent among thousands
 * costs few cache lines per call — the slabs' typed array objects are shared by many agents (slab.ts), and
 * `release()` gives both blocks back for the next agent:
 *
 * - the last `capacity` actions as a ring of label slots with each slot's count, giving the Shannon entropy
 *   of the window in O(1) per action (H = log2(n) − (1/n)·Σ c·log2 c, the sum kept incrementally from a
 *   table and recomputed from the counts once per `capacity` actions so float drift cannot accumulate), and
 *   how many of those actions were capability violations;
 * - tool-call frequency on ALIGNED windows (an action at `t` belongs to window `floor(t / windowMs)`, so
 *   every agent's windows share boundaries): completed windows' counts in a ring (the history, up to
 *   65,535 actions per window), idle windows counted as 0, running sums for an O(1) mean and variance;
 * - the loop and capability-violation marks and the level last logged.
 *
 * The block (see `SignalShape.recordPoolFor`): the two doubles, each label slot's label id (the detector's
 * `LabelIds`: no label array per agent), each slot's count and its link in the free-slot chain, then the
 * action ring (a slot number per action) and the history — a call reads the first bytes and one ring cell.
 * A label is kept once per distinct label in the window, not once per action; a slot whose count drops to 0
 * is reused by the next new label, and slots grow by doubling only while more distinct labels are in the
 * window at once (never beyond `capacity`).
 */
export class AgentSignals extends LoopTable<SignalShape> implements AgentSignalsHandle {
  // Fields a usual call reads come first (V8 lays them out in this order, after `LoopTable`'s: fewer cache
  // lines per agent among thousands; cold ones last), and as few as may be: each is 8 bytes on those lines.
  // The shape is the loop table's (`SignalShape` extends `LoopShape`), the slab's three views are read
  // through the slab (warm: hundreds of agents share it), the rarely set state is in `#marks`, what a call
  // does not read (free slots, label map, history) in `#more`, and the label slots and the counts' offset
  // follow from `#slotCount`. Helper methods are `private`, not `#`
  // methods: a class with `#` methods gives each instance a brand field (8 bytes more).
  /** The action ring's next cell. */
  #head = 0;
  /** Actions in the window. */
  #size = 0;
  /**
   * The slab holding the block: its `cells` (the slots' counts and links, `2 × slots` cells before `#at`; the
   * ring from `#at`), its `words` (each slot's label id from `idsAtOf(#n)`; `NO_LABEL`: free or not used
   * yet) and its `numbers` (the last action's time at `#n`, the entropy sum Σ c·log2 c at `#n + 1`).
   */
  #slab: Slab<SlabCells> = NO_SLAB;
  #n = 0;
  #at = 0;
  #currentWindow = NO_WINDOW;
  #currentCount = 0;
  /**
   * The least count of the current window whose z-score may exceed the shape's threshold (computed when a
   * window ends, with a margin for rounding): below it the frequency signal is 0 without a z-score.
   */
  #burstCount = NO_BURST;
  /** The level last written to the assessment log (the baseline for level-change entries). */
  loggedLevel: RiskLevel = "LOW";
  /** The last loop and violation and the violations in the window (created at the first). */
  #marks: SignalMarks | undefined = undefined;
  /** Slots used so far (in use or free); the next new slot when none is free. */
  #slotCount = 0;
  /** What a call of an agent in its first window never reads (created when a slot is freed or a window ends). */
  #more: SignalsMore | undefined = undefined;

  constructor(shape: SignalShape) {
    super(shape);
    const slots = shape.slotsFor[0] as number;
    const pool = shape.recordPoolFor(slots);
    this.#slab = pool.take();
    this.place(pool.taken, slots);
    this.#slab.numbers[this.#n] = Number.NEGATIVE_INFINITY;
  }

  /** `#more`, made when first needed (no free slot, an empty history). */
  private get more(): SignalsMore {
    this.#more ??= new SignalsMore(this.shape.capacity);
    return this.#more;
  }

  /** Sets the offsets for a block of `slots` slots starting at cell `block` of the slab. */
  private place(block: number, slots: number): void {
    const shape = this.shape;
    this.#n = (block * shape.bytesPerCell) / 8;
    this.#at = block + shape.headCells(slots) + 2 * slots;
  }

  /** Label slots in the block: the shape's for `#slotCount` (the block grows when a slot beyond it is needed). */
  private get slots(): number {
    return this.shape.slotsFor[this.#slotCount] as number;
  }

  /** Where the slots' counts and links start in the slab's cells (they end where the ring starts). */
  private get countsAt(): number {
    return this.#at - 2 * (this.shape.slotsFor[this.#slotCount] as number);
  }

  /** Set once the agent is reset (blocks given back: `#slab` is `NO_SLAB`); a holder must fetch a new one. */
  get retired(): boolean {
    return this.#slab === NO_SLAB;
  }

  /** Where the block starts in the slab's cells. */
  private get blockAt(): number {
    return (this.#n * 8) / this.shape.bytesPerCell;
  }

  /**
   * Gives the record's blocks (its cells and its loop table's) back to the shape's pools. The record must
   * not be used after (the detector retires it first: holders fetch a new one).
   */
  release(): void {
    this.clear();
    const slab = this.#slab;
    if (slab !== NO_SLAB) {
      // The labels its slots hold are held by one slot fewer.
      const labels = this.shape.labels;
      for (let slot = 0; slot < this.#slotCount; slot++) {
        const id = slab.words[idsAtOf(this.#n) + slot] as number;
        if (id !== NO_LABEL) labels.release(id);
      }
      this.shape.recordPoolFor(this.slots).give(slab, this.blockAt);
      this.#slab = NO_SLAB;
      this.#at = 0;
      this.#n = 0;
    }
  }

  /** When the agent last acted (ms; −Infinity: never). Times are kept monotonic by the detector. */
  get lastAtMs(): number {
    return this.#slab.numbers[this.#n] as number;
  }

  set lastAtMs(atMs: number) {
    this.#slab.numbers[this.#n] = atMs;
  }

  /** The agent's loop table: this record itself (its fields are the record's first; one object fewer). */
  get loops(): LoopTable {
    return this;
  }

  markLoop(atMs: number, toolName: string, repeats: number): void {
    this.#marks ??= new SignalMarks();
    this.#marks.loopDetectedAtMs = atMs;
    this.#marks.loopToolName = toolName;
    this.#marks.loopRepeats = repeats;
  }

  /** When the last loop was detected (−Infinity: never). */
  get loopDetectedAtMs(): number {
    const marks = this.#marks;
    return marks === undefined ? NEVER : marks.loopDetectedAtMs;
  }

  get loopToolName(): string {
    return this.#marks?.loopToolName ?? "";
  }

  get loopRepeats(): number {
    return this.#marks?.loopRepeats ?? 0;
  }

  get lastViolationTool(): string {
    return this.#marks?.lastViolationTool ?? "";
  }

  set lastViolationTool(toolName: string) {
    this.#marks ??= new SignalMarks();
    this.#marks.lastViolationTool = toolName;
  }

  get lastViolationDecision(): "denied" | "not-in-allow-list" {
    return this.#marks?.lastViolationDecision ?? "denied";
  }

  set lastViolationDecision(decision: "denied" | "not-in-allow-list") {
    this.#marks ??= new SignalMarks();
    this.#marks.lastViolationDecision = decision;
  }

  // --- the action window (entropy and capability violations) ---

  /** Adds an action; the oldest one falls out once the window is full. */
  pushAction(label: string, violation: boolean): void {
    const shape = this.shape;
    const head = this.#head;
    if (this.#size === shape.capacity) {
      // The same label leaving and coming back (an agent repeating a cycle of tools, or one tool) changes no
      // count: checked first, from the leaving slot's id, before any lookup of the label.
      const slab = this.#slab;
      const leaving = slab.cells[this.#at + head] as number;
      if (shape.labels.labelOf(slab.words[2 * this.#n + IDS_AFTER_N + leaving] as number) !== label) {
        this.replaceAction(head, leaving, label);
      }
    } else {
      this.addAction(head, label);
    }
    const marks = this.#marks;
    if (violation || (marks !== undefined && marks.violations !== undefined))
      this.markViolation(head, violation);
    // Once per `capacity` actions (each time the ring wraps), the sum is recomputed from the counts.
    if (head + 1 === shape.capacity) {
      this.#head = 0;
      this.resync();
    } else {
      this.#head = head + 1;
    }
  }

  /** A full window: the action at `head` (slot `leaving`) leaves and `label`, another label, comes in. */
  private replaceAction(head: number, leaving: number, label: string): void {
    const found = this.slotOfLabel(label);
    this.decrement(leaving);
    // After the decrement: a slot it freed may be reused; `add` may move the block (read after it).
    const slot = this.add(found, label);
    this.#slab.cells[this.#at + head] = slot;
  }

  /** A window not yet full: `label` comes in at `head`. (Out of line: `pushAction` stays small to inline.) */
  private addAction(head: number, label: string): void {
    this.#size++;
    const slot = this.add(this.slotOfLabel(label), label);
    this.#slab.cells[this.#at + head] = slot;
  }

  /**
   * Whether the action at `head` was a capability violation (the bitmap exists from the first one on); the
   * action leaving the full window at `head` no longer counts (a cell not written yet holds 0).
   */
  private markViolation(head: number, violation: boolean): void {
    this.#marks ??= new SignalMarks();
    const marks = this.#marks;
    marks.violations ??= new Uint8Array(this.shape.capacity);
    marks.violationCount -= marks.violations[head] as number;
    marks.violations[head] = violation ? 1 : 0;
    if (violation) marks.violationCount++;
  }

  /**
   * The slot holding `label` in the window (≥ 0), or −1 − its id when no slot does (−1: the detector holds
   * no such label at all).
   */
  private slotOfLabel(label: string): number {
    const slotCount = this.#slotCount;
    // The map exists from `SMALL_LABELS` + 1 slots on (`#slotCount`, read for the scan anyway, tells).
    if (slotCount > SMALL_LABELS) {
      const id = this.shape.labels.idOf(label);
      return id === NO_LABEL ? -1 : (this.more.slotOf?.get(id) ?? -1 - id);
    }
    // The slots' labels compared with it first (their ids are in the block's first bytes, next to the counts;
    // the labels in the detector's table, warm): a label already in the window, the usual action, is found
    // without hashing it (`idOf`: ~120 instructions a call of a window that is not full yet). Freed slots hold
    // NO_LABEL, skipped: `labelOf` is read only for held ids (strings), as the full window's test reads it.
    const labels = this.shape.labels;
    const words = this.#slab.words;
    const idsAt = 2 * this.#n + IDS_AFTER_N;
    for (let i = idsAt, end = i + slotCount; i < end; i++) {
      const id = words[i] as number;
      if (id !== NO_LABEL && labels.labelOf(id) === label) return i - idsAt;
    }
    return -1 - labels.idOf(label);
  }

  /** Counts one more action in slot `found` (from `slotOfLabel`; a new slot when < 0); returns the slot. */
  private add(found: number, label: string): number {
    const shape = this.shape;
    let slot = found;
    if (slot < 0) {
      const id = -1 - slot;
      slot = this.newSlot(id === NO_LABEL ? shape.labels.acquire(label) : shape.labels.hold(id));
    }
    const slab = this.#slab;
    const countAt = this.countsAt + 2 * slot;
    const count = slab.cells[countAt] as number;
    slab.cells[countAt] = count + 1;
    const sum = this.#n + 1;
    slab.numbers[sum] =
      (slab.numbers[sum] as number) + (shape.xLog2x[count + 1] as number) - (shape.xLog2x[count] as number);
    return slot;
  }

  /** A slot for a label id not in the window: a freed one, or the next one (growing the block if needed). */
  private newSlot(id: number): number {
    const more = this.#more;
    let slot = more === undefined ? this.shape.capacity : more.freeHead;
    if (slot === this.shape.capacity) {
      slot = this.#slotCount;
      const slots = this.slots;
      if (slot === slots) this.growSlots(slots);
      this.#slotCount = slot + 1;
    } else {
      (more as SignalsMore).freeHead = this.#slab.cells[this.countsAt + 2 * slot + 1] as number;
    }
    const words = this.#slab.words;
    words[idsAtOf(this.#n) + slot] = id;
    const slotOf = this.#more?.slotOf;
    if (slotOf !== undefined) slotOf.set(id, slot);
    else if (this.#slotCount > SMALL_LABELS) {
      const map = new Map<number, number>();
      for (let i = 0; i < this.#slotCount; i++) {
        const known = words[idsAtOf(this.#n) + i] as number;
        if (known !== NO_LABEL) map.set(known, i);
      }
      this.more.slotOf = map;
    }
    return slot;
  }

  /**
   * Doubles the label slots, all `oldSlots` in use (at most `capacity`: there are never more distinct labels
   * in the window): a block from the larger slot count's pool (each part copied to its new place), the old
   * one given back.
   */
  private growSlots(oldSlots: number): void {
    const shape = this.shape;
    const slots = Math.min(shape.capacity, 2 * oldSlots);
    const pool = shape.recordPoolFor(slots);
    const slab = pool.take();
    const old = this.#slab;
    const oldN = this.#n;
    const oldAt = this.#at;
    const oldBlockAt = this.blockAt;
    this.#slab = slab;
    this.place(pool.taken, slots);
    const n = this.#n;
    const at = this.#at;
    slab.numbers[n] = old.numbers[oldN] as number;
    slab.numbers[n + 1] = old.numbers[oldN + 1] as number;
    for (let i = 0; i < oldSlots; i++) slab.words[idsAtOf(n) + i] = old.words[idsAtOf(oldN) + i] as number;
    const countsAt = at - 2 * slots;
    const oldCountsAt = oldAt - 2 * oldSlots;
    for (let i = 0; i < 2 * oldSlots; i++) slab.cells[countsAt + i] = old.cells[oldCountsAt + i] as number;
    for (let i = 0; i < shape.tailCells; i++) slab.cells[at + i] = old.cells[oldAt + i] as number;
    if (old !== NO_SLAB) shape.recordPoolFor(oldSlots).give(old, oldBlockAt);
  }

  private decrement(slot: number): void {
    const shape = this.shape;
    const slab = this.#slab;
    const countAt = this.countsAt + 2 * slot;
    const count = slab.cells[countAt] as number;
    slab.cells[countAt] = count - 1;
    if (count === 1) this.freeSlot(slot);
    const sum = this.#n + 1;
    slab.numbers[sum] =
      (slab.numbers[sum] as number) + (shape.xLog2x[count - 1] as number) - (shape.xLog2x[count] as number);
  }

  private freeSlot(slot: number): void {
    const words = this.#slab.words;
    const idAt = idsAtOf(this.#n) + slot;
    const id = words[idAt] as number;
    const more = this.more;
    more.slotOf?.delete(id);
    // NO_LABEL: a freed slot must not match a lookup; the label is held by one slot fewer.
    words[idAt] = NO_LABEL;
    this.shape.labels.release(id);
    this.#slab.cells[this.countsAt + 2 * slot + 1] = more.freeHead;
    more.freeHead = slot;
  }

  private resync(): void {
    const shape = this.shape;
    const cells = this.#slab.cells;
    const countsAt = this.countsAt;
    let sum = 0;
    for (let slot = 0; slot < this.#slotCount; slot++) {
      sum += shape.xLog2x[cells[countsAt + 2 * slot] as number] as number;
    }
    this.#slab.numbers[this.#n + 1] = sum;
  }

  /** Actions currently in the window. */
  get windowActions(): number {
    return this.#size;
  }

  /** Distinct labels in the window. */
  get distinctLabels(): number {
    let free = 0;
    const capacity = this.shape.capacity;
    const cells = this.#slab.cells;
    const linksAt = this.countsAt + 1;
    const first = this.#more === undefined ? capacity : this.#more.freeHead;
    for (let slot = first; slot !== capacity; slot = cells[linksAt + 2 * slot] as number) free++;
    return this.#slotCount - free;
  }

  /** Label slots in use or free (at most the distinct labels the window held at once; for tests). */
  get labelSlots(): number {
    return this.#slotCount;
  }

  /** Capability violations among the actions in the window. */
  get violationCount(): number {
    const marks = this.#marks;
    return marks === undefined ? 0 : marks.violationCount;
  }

  /**
   * Whether the entropy signal surely scores 0 now (too few actions, or the entropy well within the shape's
   * band): two comparisons of the sum, no division. False means: compute it.
   */
  get entropyQuiet(): boolean {
    const sum = this.#slab.numbers[this.#n + 1] as number;
    const n = this.#size;
    return sum >= (this.shape.quietSumMin[n] as number) && sum <= (this.shape.quietSumMax[n] as number);
  }

  /**
   * Whether `entropyBits` is surely 0 with enough actions to score (the window holds one label): its score is
   * then a constant (see `SignalShape.oneLabelSumMin`). False means: compute it.
   */
  get entropyOneLabel(): boolean {
    return (this.#slab.numbers[this.#n + 1] as number) >= (this.shape.oneLabelSumMin[this.#size] as number);
  }

  /** Shannon entropy of the labels in the window, in bits (0 when empty). */
  get entropyBits(): number {
    const n = this.#size;
    if (n === 0) return 0;
    const bits = (this.shape.log2[n] as number) - (this.#slab.numbers[this.#n + 1] as number) / n;
    // Clamp rounding noise (e.g. −1e−16 for a single repeated label).
    return bits < 1e-12 ? 0 : bits;
  }

  // --- tool-call frequency on aligned windows ---

  /** Counts one action at `atMs`. */
  countInWindow(atMs: number): void {
    this.advanceWindowTo(atMs);
    this.#currentCount++;
  }

  /**
   * Moves the current window to the one containing `atMs`, pushing the finished window and one 0 per idle
   * window in between (at most the history length, so a long silence costs no more than a full ring).
   * Times before the current window are counted in the current window.
   */
  advanceWindowTo(atMs: number): void {
    const window = Math.floor(atMs / this.shape.frequencyWindowMs);
    // Out of line: a window ends once a minute, and the hot path stays small enough for V8 to inline.
    if (window > this.#currentWindow) this.enterWindow(window);
  }

  // enterWindow and burstCountNow are kept small, their rarer parts in methods of their own: V8 inlines
  // them into the detector's hot path within one bytecode budget (an agent's first call enters its first
  // window: a fleet warming up calls them on every call), which then has no room for the getters a call reads.
  private enterWindow(window: number): void {
    if (this.#currentWindow !== NO_WINDOW) this.closeWindows(window - this.#currentWindow - 1);
    this.#currentWindow = window;
    this.#currentCount = 0;
    this.#burstCount = this.burstCountNow();
  }

  /** Pushes the current window's count and one 0 per idle window after it (at most a whole history). */
  private closeWindows(idleWindows: number): void {
    this.pushWindow(this.#currentCount);
    const shape = this.shape;
    const historyWindows = shape.historyWindows;
    if (idleWindows >= historyWindows) {
      const at = this.#at + shape.historyAt;
      this.#slab.cells.fill(0, at, at + historyWindows * shape.historyCells);
      const more = this.more;
      more.historyHead = 0;
      more.historyFilled = historyWindows;
      more.historySum = 0;
      more.historySumOfSquares = 0;
    } else {
      for (let i = 0; i < idleWindows; i++) this.pushWindow(0);
    }
  }

  /** See `#burstCount`: NO_BURST until the history may score. */
  private burstCountNow(): number {
    const shape = this.shape;
    return this.completedWindows < shape.minWindows ? NO_BURST : this.burstCountOfHistory();
  }

  /** z > t ⟺ count > mean + t·spread; a count below mean + t·spread − margin cannot (see `#burstCount`). */
  private burstCountOfHistory(): number {
    const shape = this.shape;
    if (!Number.isFinite(shape.zThreshold)) return NO_BURST;
    const edge = this.meanWindowActions + shape.zThreshold * this.windowSpread;
    const below = Math.floor(edge - 1e-6 * (1 + Math.abs(edge)));
    return below >= NO_BURST ? NO_BURST : Math.max(0, below + 1);
  }

  /**
   * Whether the current window's count may score as a burst (`frequencyZScore` above the shape's
   * threshold); false means the frequency score is 0. O(1): one comparison.
   */
  get mayBurst(): boolean {
    return this.#currentCount >= this.#burstCount;
  }

  private pushWindow(actions: number): void {
    const count = Math.min(actions, MAX_WINDOW_COUNT);
    const shape = this.shape;
    const cells = this.#slab.cells;
    const wide = shape.historyCells === 1;
    const more = this.more;
    const at = this.#at + shape.historyAt + more.historyHead * shape.historyCells;
    if (more.historyFilled === shape.historyWindows) {
      const evicted = wide ? (cells[at] as number) : (cells[at] as number) | ((cells[at + 1] as number) << 8);
      more.historySum -= evicted;
      more.historySumOfSquares -= evicted * evicted;
    } else {
      more.historyFilled++;
    }
    if (wide) {
      cells[at] = count;
    } else {
      cells[at] = count & 0xff;
      cells[at + 1] = count >>> 8;
    }
    more.historySum += count;
    more.historySumOfSquares += count * count;
    more.historyHead = more.historyHead + 1 === shape.historyWindows ? 0 : more.historyHead + 1;
  }

  /** Actions counted in the current window. */
  get currentWindowActions(): number {
    return this.#currentCount;
  }

  /** Completed windows in the history (idle ones included). */
  get completedWindows(): number {
    return this.#more === undefined ? 0 : this.#more.historyFilled;
  }

  /** Mean actions per completed window (0 with no history). */
  get meanWindowActions(): number {
    const more = this.#more;
    return more === undefined || more.historyFilled === 0 ? 0 : more.historySum / more.historyFilled;
  }

  /**
   * The spread used for the z-score: the population standard deviation of the history, floored at the
   * Poisson spread √mean and at 1 action. Without a floor a perfectly regular history (std 0) would make any
   * deviation infinite — or, as in the Python original, invisible.
   */
  get windowSpread(): number {
    const more = this.#more;
    if (more === undefined || more.historyFilled === 0) return 1;
    const mean = more.historySum / more.historyFilled;
    const variance = Math.max(0, more.historySumOfSquares / more.historyFilled - mean * mean);
    return Math.max(Math.sqrt(variance), Math.sqrt(mean), 1);
  }

  /** Standard score of the current window against the history; `undefined` below `minWindows` windows. */
  frequencyZScore(minWindows: number): number | undefined {
    if (this.completedWindows < minWindows) return undefined;
    return (this.#currentCount - this.meanWindowActions) / this.windowSpread;
  }
}
