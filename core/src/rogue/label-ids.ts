import { nameWay } from "./name-cache.js";

/** Recently looked-up labels kept in a two-way cache of 2^CACHE_SETS_BITS sets. */
const CACHE_SETS_BITS = 4;
const CACHE_SIZE = 2 << CACHE_SETS_BITS;
/** "No id": ids start at 1, so a zeroed cell means "no label". */
export const NO_LABEL = 0;

/**
 * Action labels as small integer ids, shared by every agent record of one detector: a record keeps a label
 * slot's id in its block (4 bytes, next to the slot's count) instead of the string in an array of its own,
 * so a call reads no label array. Labels come from callers (tool and model names, possibly untrusted), so
 * the table holds only the labels some record's window holds now: each id counts the slots holding it
 * (`acquire` / `release`), and an id no slot holds is forgotten and its number reused. Its size is
 * therefore at most the label slots in use over all records, as the strings were before.
 *
 * `idOf` is the per-call lookup: a two-way cache of the last labels seen (an agent calls a handful of
 * tools), then the `Map`.
 */
export class LabelIds {
  readonly #ids = new Map<string, number>();
  /** Per id: its label (index 0 unused). */
  #labels: Array<string | undefined> = [undefined];
  /** Per id: the slots holding it (0: free). */
  #holders: Int32Array = new Int32Array(16);
  /** Freed ids, reused before new ones. */
  readonly #free: number[] = [];
  readonly #cacheNames: Array<string | undefined> = new Array<string | undefined>(CACHE_SIZE).fill(undefined);
  readonly #cacheIds = new Int32Array(CACHE_SIZE);

  /** Labels currently held by some slot. */
  get size(): number {
    return this.#ids.size;
  }

  /** The label's id while some slot holds it, else `NO_LABEL`. Changes no count. */
  idOf(label: string): number {
    const way = nameWay(label, CACHE_SETS_BITS);
    const names = this.#cacheNames;
    if (names[way] === label) return this.#cacheIds[way] as number;
    if (names[way + 1] === label) return this.#cacheIds[way + 1] as number;
    const id = this.#ids.get(label);
    if (id === undefined) return NO_LABEL;
    this.#cache(way, label, id);
    return id;
  }

  /** Puts `label` in the first way of its set, the one it displaces in the second. */
  #cache(way: number, label: string, id: number): void {
    this.#cacheNames[way + 1] = this.#cacheNames[way];
    this.#cacheIds[way + 1] = this.#cacheIds[way] as number;
    this.#cacheNames[way] = label;
    this.#cacheIds[way] = id;
  }

  /** The label's id for one more slot holding it (a new id if none holds it). */
  acquire(label: string): number {
    let id = this.#ids.get(label);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#labels.length;
      if (id === this.#labels.length) this.#labels.push(label);
      else this.#labels[id] = label;
      if (id >= this.#holders.length) {
        const holders = new Int32Array(2 * this.#holders.length);
        holders.set(this.#holders);
        this.#holders = holders;
      }
      this.#ids.set(label, id);
      this.#cache(nameWay(label, CACHE_SETS_BITS), label, id);
    }
    this.#holders[id] = (this.#holders[id] as number) + 1;
    return id;
  }

  /** One more slot holds `id` (held already); returns it. */
  hold(id: number): number {
    this.#holders[id] = (this.#holders[id] as number) + 1;
    return id;
  }

  /** One slot fewer holds `id`; the last one forgets the label. */
  release(id: number): void {
    const holders = (this.#holders[id] as number) - 1;
    this.#holders[id] = holders;
    if (holders > 0) return;
    const label = this.#labels[id] as string;
    this.#ids.delete(label);
    this.#labels[id] = undefined;
    this.#free.push(id);
    const way = nameWay(label, CACHE_SETS_BITS);
    if (this.#cacheNames[way] === label) this.#cacheNames[way] = undefined;
    if (this.#cacheNames[way + 1] === label) this.#cacheNames[way + 1] = undefined;
  }

  /** The label of a held id (undefined for a free one). */
  labelOf(id: number): string | undefined {
    return this.#labels[id];
  }
}
