/**
 * The set of a name in a small two-way cache of names (tool names, action labels): from its length and its
 * first, middle and last characters, mixed so that a handful of names (an agent's tools) rarely share a set.
 * Returns the set's first way (`2 × set`); the caller checks both ways. A direct-mapped cache indexed by
 * length and last character alone put three of five common tool names in one slot and missed on most calls.
 */
export function nameWay(name: string, setBits: number): number {
  const length = name.length;
  if (length === 0) return 0;
  const mixed =
    name.charCodeAt(0) ^
    (name.charCodeAt(length - 1) << 8) ^
    (length << 16) ^
    (name.charCodeAt(length >> 1) << 24);
  return (Math.imul(mixed, 0x9e3779b1) >>> (32 - setBits)) << 1;
}

/**
 * A packed array of `length` copies of `value` (built by pushing: `new Array(n)` would make it holey, and every
 * read would then test for a hole). The fingerprint's caches keep their lanes in such arrays of small integers,
 * not in an `Int32Array`: a read is then a load and an untag, where a typed array's also loads its length, base
 * and external pointer (int32 values are small integers on 64-bit V8 without pointer compression, as Node's).
 */
export function packed<T>(length: number, value: T): T[] {
  const array: T[] = [];
  for (let i = 0; i < length; i++) array.push(value);
  return array;
}

/** Tool names whose hasher lanes are kept, by `nameWay` (16 sets of two ways). */
const TOOL_SETS_BITS = 4;
const toolNames = packed<string | undefined>(2 << TOOL_SETS_BITS, undefined);
/** Per kept name: both lanes after mixing it. */
const toolLanes = packed(4 << TOOL_SETS_BITS, 0);

/** The way of `name` among the kept tool names, −1 if it is not kept: its lanes are `toolLane(2 × way)` and next. */
export function keptTool(name: string): number {
  const way = nameWay(name, TOOL_SETS_BITS);
  return toolNames[way] === name ? way : toolNames[way + 1] === name ? way + 1 : -1;
}

/** Lane `i` of the kept tool names (`2 × way` and `2 × way + 1`). */
export function toolLane(i: number): number {
  return toolLanes[i] as number;
}

/** Keeps a tool name's lanes: the newest name in its set's first way, the one it displaces in the second. */
export function keepTool(name: string, lane1: number, lane2: number): void {
  const way = nameWay(name, TOOL_SETS_BITS);
  toolNames[way + 1] = toolNames[way];
  toolLanes[2 * way + 2] = toolLanes[2 * way] as number;
  toolLanes[2 * way + 3] = toolLanes[2 * way + 1] as number;
  toolNames[way] = name;
  toolLanes[2 * way] = lane1;
  toolLanes[2 * way + 1] = lane2;
}
