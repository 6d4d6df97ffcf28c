/**
 * A small synchronous SHA-256 (FIPS 180-4) in plain TypeScript.
 *
 * Core runs on edge runtimes and must stay synchronous, so it can use neither `node:crypto` nor the
 * promise-based WebCrypto `subtle.digest`. The assessment log hashes ~600 bytes per entry, when a risk level
 * changes (a whole fleet's at once when they reach `entropyMinActions` together) or `assess()` runs, so it is
 * written for speed: a string is encoded as UTF-8 straight into a reused buffer (`encodeInto`, no new array
 * per call), words are read with shifts, the state lives in locals, only the padding tail is written, and
 * the digest is spelled through a byte → hex table.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** `HEX[b]` is byte `b` as two lowercase hex digits. */
const HEX: string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Messages up to this size are encoded and padded in the reused buffer; longer ones get their own. */
const REUSED_LIMIT = 64 * 1024;

const utf8 = new TextEncoder();

// Reused across calls: hashing is synchronous, so no two calls interleave. Every call writes the bytes it
// hashes (message, 0x80, zeros, length), so nothing of an earlier, longer message is read.
let reused = new Uint8Array(1024);
const schedule = new Int32Array(64);

/** SHA-256 of `input` (a string is hashed as UTF-8, lone surrogates as U+FFFD), as 64 lowercase hex digits. */
export function sha256Hex(input: string | Uint8Array): string {
  let buffer: Uint8Array;
  let length: number;
  if (typeof input === "string") {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair, two units, takes 4).
    buffer = bufferFor(input.length * 3 + 72);
    length = utf8.encodeInto(input, buffer).written;
  } else {
    length = input.length;
    buffer = bufferFor(length + 72);
    buffer.set(input);
  }

  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer, to a multiple of 64 bytes.
  const paddedLength = Math.floor((length + 72) / 64) * 64;
  buffer[length] = 0x80;
  for (let i = length + 1; i < paddedLength - 8; i++) buffer[i] = 0;
  const high = Math.floor(length / 0x2000_0000); // (length × 8) / 2^32
  const low = (length << 3) >>> 0;
  buffer[paddedLength - 8] = high >>> 24;
  buffer[paddedLength - 7] = high >>> 16;
  buffer[paddedLength - 6] = high >>> 8;
  buffer[paddedLength - 5] = high;
  buffer[paddedLength - 4] = low >>> 24;
  buffer[paddedLength - 3] = low >>> 16;
  buffer[paddedLength - 2] = low >>> 8;
  buffer[paddedLength - 1] = low;

  return digest(buffer, paddedLength);
}

function bufferFor(size: number): Uint8Array {
  if (size > REUSED_LIMIT) return new Uint8Array(size);
  if (size > reused.length) {
    let capacity = reused.length * 2;
    while (capacity < size) capacity *= 2;
    reused = new Uint8Array(capacity);
  }
  return reused;
}

/** Compresses the padded message `bytes[0, paddedLength)` and spells the state in hex. */
function digest(bytes: Uint8Array, paddedLength: number): string {
  const w = schedule;
  let h0 = 0x6a09e667;
  let h1 = 0xbb67ae85 | 0;
  let h2 = 0x3c6ef372;
  let h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f;
  let h5 = 0x9b05688c | 0;
  let h6 = 0x1f83d9ab;
  let h7 = 0x5be0cd19;

  for (let offset = 0; offset < paddedLength; offset += 64) {
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    // The message schedule is computed as the rounds need it (one loop, not three).
    for (let t = 0; t < 64; t++) {
      let wt: number;
      if (t < 16) {
        const j = offset + (t << 2);
        wt = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
      } else {
        const w15 = w[t - 15]!;
        const w2 = w[t - 2]!;
        const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
        const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
        wt = (((w[t - 16]! + s0) | 0) + ((w[t - 7]! + s1) | 0)) | 0;
      }
      w[t] = wt;
      const sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const choice = (e & f) ^ (~e & g);
      const temp1 = (((h + sigma1) | 0) + ((choice + ((K[t]! + wt) | 0)) | 0)) | 0;
      const sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const majority = (a & b) ^ (a & c) ^ (b & c);
      h = g;
      g = f;
      f = e;
      e = (d + temp1) | 0;
      d = c;
      c = b;
      b = a;
      a = (temp1 + ((sigma0 + majority) | 0)) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }

  return hex(h0) + hex(h1) + hex(h2) + hex(h3) + hex(h4) + hex(h5) + hex(h6) + hex(h7);
}

function hex(word: number): string {
  return HEX[word >>> 24]! + HEX[(word >>> 16) & 0xff]! + HEX[(word >>> 8) & 0xff]! + HEX[word & 0xff]!;
}
