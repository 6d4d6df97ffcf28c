/** The typed arrays a pool hands blocks of. */
export type SlabCells = Uint8Array | Uint16Array | Uint32Array;

/** Bytes of a pool's first slab; each next slab is twice as large, up to `MAX_SLAB_BYTES`. */
const FIRST_SLAB_BYTES = 1024;
const MAX_SLAB_BYTES = 64 * 1024;
const NO_NUMBERS = new Float64Array(0);
const NO_WORDS = new Uint32Array(0);

/**
 * One typed array cut into equal blocks, each block one agent's cells. Many agents' cells share one array,
 * so a call reads the array object from a line other agents' calls keep warm, and taking or giving back a
 * block allocates nothing.
 */
export class Slab<T extends SlabCells> {
  readonly cells: T;
  /**
   * The same memory as 64-bit floats, for a pool made `withNumbers` (its blocks a whole number of 8 bytes):
   * a block keeps its doubles here, next to its cells (a double field of an object is a box of its own).
   */
  readonly numbers: Float64Array;
  /** The same memory as 32-bit words (for a pool made `withNumbers`, like `numbers`). */
  readonly words: Uint32Array;
  /** Blocks handed out and not given back. */
  used = 0;
  /** Offset of the first block never handed out (blocks below it are used or on the free stack). */
  bump = 0;
  /** Free blocks given back, as block numbers (a stack: `freeTop` of them). */
  readonly free: Uint16Array | Uint32Array;
  freeTop = 0;
  /** Position in its pool's list of slabs with a free block (−1: full, or dropped). */
  openAt = -1;

  constructor(cells: T, blocks: number, withNumbers: boolean) {
    this.cells = cells;
    this.numbers = withNumbers
      ? new Float64Array(cells.buffer, cells.byteOffset, cells.byteLength >> 3)
      : NO_NUMBERS;
    this.words = withNumbers
      ? new Uint32Array(cells.buffer, cells.byteOffset, cells.byteLength >> 2)
      : NO_WORDS;
    this.free = blocks <= 0x1_0000 ? new Uint16Array(blocks) : new Uint32Array(blocks);
  }
}

/**
 * Blocks of `blockCells` cells carved from slabs (a small slab allocator, one pool per block size). A block
 * is handed out zeroed; a block given back is zeroed and reused by the next `take`; a slab whose blocks are
 * all given back is dropped (unless it is the pool's last one with room), so the memory a pool holds follows
 * the blocks in use. O(1) per take and give, no allocation but a new slab once the others are full.
 */
export class SlabPool<T extends SlabCells> {
  readonly blockCells: number;
  readonly #make: (length: number) => T;
  readonly #bytesPerCell: number;
  readonly #withNumbers: boolean;
  /** Slabs with a free block; blocks are taken from the last. */
  readonly #open: Array<Slab<T>> = [];
  /** Every slab the pool holds, by its cells (for `slabOf`). */
  readonly #byCells = new Map<T, Slab<T>>();
  #nextSlabBytes = FIRST_SLAB_BYTES;
  /** Blocks handed out and not given back (for tests and sizes). */
  #inUse = 0;
  #slabs = 0;
  /** Offset of the block the last `take` handed out, in `cells` of the slab it returned. */
  taken = 0;

  /** `withNumbers`: slabs also viewed as `numbers` (then blocks must be a whole number of 8 bytes). */
  constructor(blockCells: number, bytesPerCell: number, make: (length: number) => T, withNumbers = false) {
    if (withNumbers && (blockCells * bytesPerCell) % 8 !== 0) throw new RangeError("blocks of whole 8 bytes");
    this.blockCells = blockCells;
    this.#bytesPerCell = bytesPerCell;
    this.#make = make;
    this.#withNumbers = withNumbers;
  }

  /** A zeroed block: returns its slab; the block starts at `taken` in the slab's `cells`. */
  take(): Slab<T> {
    const open = this.#open;
    const slab = open.length === 0 ? this.#newSlab() : (open[open.length - 1] as Slab<T>);
    if (slab.freeTop > 0) {
      this.taken = (slab.free[--slab.freeTop] as number) * this.blockCells;
    } else {
      this.taken = slab.bump;
      slab.bump += this.blockCells;
    }
    slab.used++;
    this.#inUse++;
    if (slab.freeTop === 0 && slab.bump === slab.cells.length) {
      // Full: off the open list (it is the last entry).
      open.pop();
      slab.openAt = -1;
    }
    return slab;
  }

  /** Gives back the block at `offset` of `slab` (handed out by this pool's `take`). */
  give(slab: Slab<T>, offset: number): void {
    slab.cells.fill(0, offset, offset + this.blockCells);
    slab.free[slab.freeTop++] = offset / this.blockCells;
    slab.used--;
    this.#inUse--;
    const open = this.#open;
    if (slab.openAt === -1) {
      slab.openAt = open.length;
      open.push(slab);
    }
    if (slab.used === 0 && open.length > 1) {
      // Empty, and another slab has room: drop it (swap-remove from the open list).
      const last = open.pop() as Slab<T>;
      if (last !== slab) {
        open[slab.openAt] = last;
        last.openAt = slab.openAt;
      }
      slab.openAt = -1;
      this.#slabs--;
      this.#byCells.delete(slab.cells);
    }
  }

  /**
   * The slab whose `cells` are `cells` (a block's holder that keeps only the cells: `give` needs the slab).
   * Throws for cells of no slab of this pool.
   */
  slabOf(cells: T): Slab<T> {
    const slab = this.#byCells.get(cells);
    if (slab === undefined) throw new RangeError("cells of no slab of this pool");
    return slab;
  }

  /** Blocks handed out and not given back. */
  get blocksInUse(): number {
    return this.#inUse;
  }

  /** Slabs the pool holds. */
  get slabs(): number {
    return this.#slabs;
  }

  #newSlab(): Slab<T> {
    const blockBytes = this.blockCells * this.#bytesPerCell;
    const blocks = Math.max(1, Math.floor(this.#nextSlabBytes / blockBytes));
    this.#nextSlabBytes = Math.min(MAX_SLAB_BYTES, 2 * this.#nextSlabBytes);
    const slab = new Slab(this.#make(blocks * this.blockCells), blocks, this.#withNumbers);
    slab.openAt = this.#open.length;
    this.#open.push(slab);
    this.#byCells.set(slab.cells, slab);
    this.#slabs++;
    return slab;
  }
}
