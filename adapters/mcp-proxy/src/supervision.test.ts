import { AgentSRE, ManualClock } from "@agent-sre/core";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryAuditSink } from "./audit.js";
import { silentLogger } from "./logger.js";
import { McpProxy } from "./proxy.js";
import { DECISION_META_KEY } from "./refusal.js";
import { connectClient, flush } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const proxies: McpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

function decision(result: unknown): Record<string, unknown> {
  const meta = (result as { _meta?: Record<string, unknown> })._meta;
  return (meta?.[DECISION_META_KEY] ?? {}) as Record<string, unknown>;
}
function text(result: unknown): string {
  return ((result as { content: Array<{ text?: string }> }).content[0]?.text ?? "") as string;
}

describe("upstream supervision", () => {
  it("a crash fails the calls in flight clearly, refuses with a retry hint while down, restarts with backoff", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const up = fakeUpstream();
    const audit = new MemoryAuditSink();
    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: up.spec }],
      sre,
      audit,
      logger: silentLogger,
      supervision: { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 8_000 },
    });
    proxies.push(proxy);
    const states: string[] = [];
    proxy.on("upstream.state", (e) => states.push(e.state));
    const c = await connectClient(proxy);
    expect(up.log.connects).toBe(1);

    const inFlight = c.client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      timeout: 600_000,
    });
    await flush();
    await up.crash();
    const lost = await inFlight;
    expect(lost.isError).toBe(true);
    expect(decision(lost)).toMatchObject({ code: "UPSTREAM_LOST", retryable: true, retryAfterMs: 1_000 });
    expect(text(lost)).toMatch(
      /closed the connection while the call was running.*may or may not have taken effect.*retry after 1 s/,
    );

    const down = await c.client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(decision(down)).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", retryAfterMs: 1_000 });
    expect(text(down)).toMatch(/unavailable \(the connection closed; restarting\)/);

    // The first restart fails: the next waits twice as long.
    up.failConnects(true);
    clock.advance(1_000);
    await flush();
    expect(up.log.connects).toBe(2);
    const stillDown = await c.client.callTool({ name: "echo", arguments: { text: "y" } });
    expect(decision(stillDown).retryAfterMs).toBe(2_000);
    expect(text(stillDown)).toMatch(/upstream is broken/);

    up.failConnects(false);
    clock.advance(1_999);
    await flush();
    expect(up.log.connects).toBe(2);
    clock.advance(1);
    await flush();
    expect(up.log.connects).toBe(3);
    expect(text(await c.client.callTool({ name: "echo", arguments: { text: "back" } }))).toBe("echo: back");
    expect(proxy.status().upstreams[0]).toMatchObject({ server: "up", restarts: 1, states: { ready: 1 } });
    expect(states).toEqual(["connecting", "ready", "down", "connecting", "down", "connecting", "ready"]);
    expect(audit.records.map((r) => r.outcome)).toEqual(["unavailable", "unavailable", "unavailable", "ok"]);
  });

  it("an upstream that cannot start does not stop the proxy; its tools appear once it starts", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const good = fakeUpstream({ only: ["echo"] });
    const bad = fakeUpstream({ only: ["add"] });
    bad.failConnects(true);
    const proxy = new McpProxy({
      upstreams: [
        { name: "good", transport: good.spec },
        { name: "bad", transport: bad.spec },
      ],
      sre,
      logger: silentLogger,
      supervision: { initialDelayMs: 500 },
    });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(["good__echo"]);
    expect(text(await c.client.callTool({ name: "good__echo", arguments: { text: "a" } }))).toBe("echo: a");
    expect(proxy.status().upstreams[1]).toMatchObject({ server: "bad", states: { down: 1 } });
    expect(proxy.status().upstreams[1]?.lastError).toMatch(/upstream is broken/);

    bad.failConnects(false);
    clock.advance(500);
    await flush();
    expect(c.listChanged).toBe(1);
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(["good__echo", "bad__add"]);
    expect(text(await c.client.callTool({ name: "bad__add", arguments: { a: 1, b: 2 } }))).toBe("3");
  });

  it("connection losses count against the upstream's own breaker, which then refuses every tool of it", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({
      clock,
      breakers: { overrides: { "upstream:*": { failureThreshold: 1, recoveryTimeoutMs: 60_000 } } },
    });
    const up = fakeUpstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: up.spec }],
      sre,
      logger: silentLogger,
      supervision: { initialDelayMs: 100 },
    });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    const inFlight = c.client.callTool({ name: "hang", arguments: {} });
    await flush();
    await up.crash();
    await inFlight;
    clock.advance(100);
    await flush();
    expect(proxy.status().upstreams[0]?.states).toEqual({ ready: 1 });
    const refused = await c.client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(decision(refused)).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", retryAfterMs: 59_900 });
    expect(text(refused)).toMatch(/circuit "upstream:up" is open/);
    expect(sre.status().openCircuits).toContain("upstream:up");
    clock.advance(59_900);
    expect(text(await c.client.callTool({ name: "echo", arguments: { text: "y" } }))).toBe("echo: y");
  });
});
