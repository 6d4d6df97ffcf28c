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
