/// <reference types="node" />
// node:crypto is the reference implementation; core itself uses no node: module (tsconfig "types": []).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "./sha256.js";
import { random } from "./test-utils/reference.js";

const reference = (input: string | Uint8Array): string => createHash("sha256").update(input).digest("hex");

/** Characters of 1-, 2-, 3- and 4-byte UTF-8, and lone surrogates (TextEncoder writes U+FFFD for those). */
const PIECES = [
  "a",
  "Z",
  "0",
  ":",
  "{",
  '"',
  "\\",
  "\n",
  "\u0000",
  "\u007f",
  "é",
  "ß",
  "\u07ff",
  "✓",
  "€",
  "\uffff",
  "🚀",
  "𝄞",
  "\ud800",
  "\udfff",
];

function randomText(next: () => number, units: number): string {
  let text = "";
  while (text.length < units) text += PIECES[Math.floor(next() * PIECES.length)] as string;
  return text;
}

describe("sha256Hex", () => {
  it("matches the FIPS 180-4 / NIST vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(
      sha256Hex(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      ),
    ).toBe("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  });

  it("hashes a long string (one million 'a')", () => {
    expect(sha256Hex("a".repeat(1_000_000))).toBe(
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
  });

  it("pads correctly around the 64-byte block boundaries", () => {
    // Reference digests from coreutils sha256sum.
    const expected: Record<number, string> = {
      55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
      56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
      63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
      64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
      65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
      119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
      120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
    };
    for (const [length, digest] of Object.entries(expected)) {
      expect(sha256Hex("a".repeat(Number(length)))).toBe(digest);
    }
  });

  it("equals node:crypto for every length 0-300, as a string and as bytes", () => {
    for (let length = 0; length <= 300; length++) {
      const text = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(9).slice(0, length);
      expect(sha256Hex(text), `string of ${length}`).toBe(reference(text));
      const bytes = new Uint8Array(length).map((_, i) => (i * 131 + length) & 0xff);
      expect(sha256Hex(bytes), `bytes of ${length}`).toBe(reference(bytes));
    }
  });

  it("equals node:crypto around every block boundary of UTF-8 up to 1,100 bytes", () => {
    // Multi-byte characters put the boundary inside a character: 2-, 3- and 4-byte ones after n ASCII bytes.
    for (const character of ["é", "✓", "🚀"]) {
      for (let ascii = 0; ascii <= 1_100; ascii++) {
        const text = `${"x".repeat(ascii)}${character}${character}`;
        expect(sha256Hex(text), `${ascii} + ${character}`).toBe(reference(text));
      }
    }
  });

  it("hashes lone surrogates as U+FFFD, as TextEncoder encodes them", () => {
    for (const text of ["\ud800", "\udc00", "a\ud800b", "\udbff\udbff\udfff", "\udfff\ud800", "x\ud83d"]) {
      const encoded = new TextEncoder().encode(text);
      expect(sha256Hex(text)).toBe(reference(encoded));
      expect(sha256Hex(text)).toBe(reference(text.replace(/\p{Surrogate}/gu, "\ufffd")));
    }
  });

  it("equals node:crypto on random non-ASCII strings and bytes, calls of all lengths interleaved", () => {
    const next = random(18);
    // Long before short, and the reverse: bytes of an earlier, longer message must not leak into a later one.
    const lengths = [
      700, 3, 0, 64, 1_500, 55, 56, 63, 119, 120, 2, 300, 0, 1, 5_000, 9, 127, 128, 129, 183, 184,
    ];
    for (let round = 0; round < 10; round++) {
      for (const length of lengths) {
        const text = randomText(next, length);
        expect(sha256Hex(text), `string ${round}/${length}`).toBe(reference(text));
        const bytes = new Uint8Array(length).map(() => Math.floor(next() * 256));
        expect(sha256Hex(bytes), `bytes ${round}/${length}`).toBe(reference(bytes));
        const ascii = "q".repeat(length % 130);
        expect(sha256Hex(ascii), `ascii ${round}/${length}`).toBe(reference(ascii));
      }
    }
  });

  it("hashes messages longer than its reused buffer (64 KiB), then short ones again", () => {
    const next = random(7);
    const long = randomText(next, 40_000); // up to 160,000 bytes of UTF-8
    expect(sha256Hex(long)).toBe(reference(long));
    const bytes = new Uint8Array(70_000).map(() => Math.floor(next() * 256));
    expect(sha256Hex(bytes)).toBe(reference(bytes));
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("does not change the bytes it is given", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    sha256Hex(bytes);
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
  });

  it("encodes strings as UTF-8 and accepts raw bytes", () => {
    expect(sha256Hex("héllo wörld ✓ 🚀")).toBe(
      "c1a19c07e61550d4eb0bec9e7259bbf521b29ef90cede8cc2b5170f4046a7373",
    );
    expect(sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(sha256Hex("abc"));
  });
});
