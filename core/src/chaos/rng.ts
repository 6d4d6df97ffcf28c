/**
 * Seeded randomness for chaos experiments: the same seed and the same sequence of calls give the same
 * injections, so a failing run can be replayed.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit-state generator, fast and good enough for sampling (not for cryptography).
 * Returns numbers in [0, 1) with 2^-32 resolution.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a over the UTF-16 code units of `text`, starting from `basis`, finished with murmur3's fmix32. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return fmix32(hash);
}

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from a number (taken modulo 2^32) or a string (hashed). */
export function toSeed(seed: number | string): number {
  return typeof seed === "number" ? seed >>> 0 : hashString(seed);
}

/**
 * A stable number in [0, 1) for `key` under `seed`: the same key and seed always give the same value,
 * independent of call order. Used to choose a deterministic share of agents.
 */
export function seededUnit(seed: number, key: string): number {
  return hashString(key, fmix32(seed ^ 0x9e3779b9)) / 4_294_967_296;
}
