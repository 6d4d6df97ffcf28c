import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type AuditRecord, argumentShape, JsonlAuditLog } from "./audit.js";
import { silentLogger } from "./logger.js";
import { McpProxy } from "./proxy.js";
import { connectClient } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const dir = () => mkdtempSync(join(tmpdir(), "agent-sre-audit-"));

describe("argumentShape", () => {
  it("keeps keys and types, never values, and redacts secret-looking keys", () => {
    const shape = argumentShape({
      path: "/etc/passwd",
      count: 3,
      recursive: true,
      nothing: null,
      apiKey: "sk-live-123",
      headers: { Authorization: "Bearer abc", accept: "json" },
      files: [{ name: "a", size: 1 }],
      tags: ["x", "y"],
      empty: [],
    });
    expect(shape).toEqual({
      path: "string(11)",
      count: "number",
      recursive: "boolean",
      nothing: "null",
      apiKey: "[redacted]",
      headers: { Authorization: "[redacted]", accept: "string(4)" },
      files: { "array(1)": { name: "string(1)", size: "number" } },
      tags: "array(2)<string>",
      empty: "array(0)",
    });
    expect(JSON.stringify(shape)).not.toMatch(/passwd|sk-live|abc/);
  });

  it("bounds depth and width", () => {
    const deep = { a: { b: { c: { d: { e: { f: 1 } } } } } };
    expect(argumentShape(deep)).toEqual({ a: { b: { c: { d: "object" } } } });
    const wide = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, i]));
    const shape = argumentShape(wide) as Record<string, unknown>;
    expect(Object.keys(shape)).toHaveLength(51);
    expect(shape["…"]).toBe("10 more keys");
  });
});

describe("JsonlAuditLog", () => {
  it("writes whole lines only and loses nothing on close, even with many concurrent writers", async () => {
    const file = join(dir(), "nested", "audit.jsonl");
    const log = new JsonlAuditLog(file);
    const record = (i: number): AuditRecord => ({
      time: new Date(0).toISOString(),
      kind: "tool",
      agent: `agent-${i % 7}`,
      tool: "echo",
      decision: "allowed",
      outcome: "ok",
      latencyMs: i,
      costUsd: 0,
      args: { text: `string(${"x".repeat(i % 50).length})`, pad: "y".repeat(2_000) },
    });
    await Promise.all(
      Array.from({ length: 2_000 }, (_, i) => Promise.resolve().then(() => log.write(record(i)))),
    );
    await log.close();
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(2_000);
    expect(new Set(lines.map((line) => (JSON.parse(line) as AuditRecord).latencyMs)).size).toBe(2_000);
    // Appends to an existing file.
    const again = new JsonlAuditLog(file);
    again.write(record(1));
    await again.close();
    expect(readFileSync(file, "utf8").split("\n")).toHaveLength(2_002);
  });
});

describe("audit through the proxy", () => {
  const proxies: McpProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  it("one complete line per call: time, agent, server, tool, decision, outcome, latency, cost, argument shape", async () => {
    const file = join(dir(), "audit.jsonl");
    const up = fakeUpstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: up.spec }],
      sre: { tools: { deny: ["fail"] } },
      tools: { costs: { add: 0.25 } },
      audit: { file, redactKeys: ["pin"] },
      logger: silentLogger,
    });
    proxies.push(proxy);
    const c = await connectClient(proxy, { name: "cursor" });
    await c.client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    await c.client.callTool({ name: "fail", arguments: {} });
    await c.client.callTool({ name: "flaky", arguments: { n: 1, pinCode: 1234 } });
    up.setBroken(true);
    await c.client.callTool({ name: "flaky", arguments: { n: 2 } });
    await proxy.close();
    const records = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditRecord);
    expect(records).toHaveLength(4);
    for (const record of records) {
      expect(Date.parse(record.time)).not.toBeNaN();
      expect(record).toMatchObject({ kind: "tool", agent: "cursor", client: "cursor", server: "up" });
      expect(record.latencyMs).toBeGreaterThanOrEqual(0);
      expect(typeof record.session).toBe("string");
    }
    expect(records.map((r) => [r.tool, r.decision, r.outcome, r.code ?? null, r.costUsd])).toEqual([
      ["add", "allowed", "ok", null, 0.25],
      ["fail", "refused", "refused", "TOOL_NOT_ALLOWED", 0],
      ["flaky", "allowed", "ok", null, 0],
      ["flaky", "allowed", "tool_error", null, 0],
    ]);
    expect(records[0]?.args).toEqual({ a: "number", b: "number" });
    expect(records[2]?.args).toEqual({ n: "number", pinCode: "[redacted]" });
  });
});
