import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildPromptInjectionPayload,
  CHAOS_CANARY,
  containsCanary,
  injectPayload,
  PROMPT_INJECTION_PAYLOADS,
  PROMPT_INJECTION_TECHNIQUES,
} from "./payloads.js";

const P = "PAYLOAD";

describe("test payloads", () => {
  it("has a labelled payload with the canary for every technique", () => {
    for (const technique of PROMPT_INJECTION_TECHNIQUES) {
      expect(PROMPT_INJECTION_PAYLOADS[technique]).toContain(CHAOS_CANARY);
      expect(containsCanary(PROMPT_INJECTION_PAYLOADS[technique])).toBe(true);
    }
    expect(Object.keys(PROMPT_INJECTION_PAYLOADS)).toEqual([...PROMPT_INJECTION_TECHNIQUES]);
    expect(PROMPT_INJECTION_PAYLOADS["data-exfiltration"]).toMatch(/https:\/\/[a-z.]+\.invalid\//);
    expect(buildPromptInjectionPayload("tool-hijack", "wipe_disk")).toContain('"wipe_disk"');
    expect(containsCanary("nothing here")).toBe(false);
  });
});

describe("injectPayload", () => {
  it("appends to a string", () => {
    expect(injectPayload("result text", P)).toBe(`result text\n\n${P}`);
    expect(injectPayload("", P)).toBe(P);
  });

  it("appends a text part to an array of content parts", () => {
    const parts = [
      { type: "text", text: "hello" },
      { type: "image", data: "..." },
    ];
    expect(injectPayload(parts, P)).toEqual([...parts, { type: "text", text: P }]);
    expect(injectPayload([], P)).toEqual([{ type: "text", text: P }]);
  });

  it("puts it into the last message of a message list", () => {
    const messages = [
      { role: "system", content: "be nice" },
      { role: "user", content: [{ type: "text", text: "hi" }] },
    ];
    expect(injectPayload(messages, P)).toEqual([
      { role: "system", content: "be nice" },
      {
        role: "user",
        content: [
          { type: "text", text: "hi" },
          { type: "text", text: P },
        ],
      },
    ]);
    expect(injectPayload(["a", "b"], P)).toEqual(["a", `b\n\n${P}`]);
  });

  it("puts it into an object's text field, else its first string field", () => {
    expect(injectPayload({ role: "user", content: "hi" }, P)).toEqual({
      role: "user",
      content: `hi\n\n${P}`,
    });
    expect(injectPayload({ id: 7, title: "doc", body: "x" }, P)).toEqual({
      id: 7,
      title: `doc\n\n${P}`,
      body: "x",
    });
    // MCP CallToolResult
    expect(injectPayload({ content: [{ type: "text", text: "42" }], isError: false }, P)).toEqual({
      content: [
        { type: "text", text: "42" },
        { type: "text", text: P },
      ],
      isError: false,
    });
    expect(injectPayload({ data: { summary: "s" } }, P)).toEqual({ data: { summary: `s\n\n${P}` } });
    expect(injectPayload({ count: 3 }, P)).toEqual({ count: 3, text: P });
  });

  it("handles primitives", () => {
    expect(injectPayload(undefined, P)).toBe(P);
    expect(injectPayload(null, P)).toBe(P);
    expect(injectPayload(42, P)).toBe(`42\n\n${P}`);
    expect(injectPayload(true, P)).toBe(`true\n\n${P}`);
  });

  it("terminates on cyclic values", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let node = injectPayload(cyclic, P) as Record<string, unknown>;
    let depth = 0;
    while (node.text === undefined && depth < 10) {
      node = node.self as Record<string, unknown>;
      depth++;
    }
    expect(node.text).toBe(P);
    expect(cyclic).toEqual({ self: cyclic });
  });

  it("property: never mutates the input and the payload always ends up in the result", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const before = JSON.stringify(value);
        const result = injectPayload(value, P);
        return JSON.stringify(value) === before && JSON.stringify(result).includes(P);
      }),
    );
  });
});
