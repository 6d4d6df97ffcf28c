import {
  type AgentRef,
  AgentSRE,
  type AgentSREOptions,
  ChaosExperiment,
  errorInjection,
  ManualClock,
} from "@agent-sre/core";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryAuditSink } from "./audit.js";
import { parseConfig } from "./config/load.js";
import { createProxyFromConfig } from "./from-config.js";
import { silentLogger } from "./logger.js";
import { McpProxy, type McpProxyOptions } from "./proxy.js";
import { DECISION_META_KEY } from "./refusal.js";
import { connectClient, flush } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const proxies: McpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

function setup(sreOptions: AgentSREOptions = {}, options: Partial<McpProxyOptions> = {}) {
  const clock = new ManualClock();
  const sre = new AgentSRE({ clock, ...sreOptions });
  const up = fakeUpstream();
  const audit = new MemoryAuditSink();
  const proxy = new McpProxy({
    upstreams: [{ name: "up", transport: up.spec }],
    sre,
    logger: silentLogger,
    audit,
    ...options,
  });
  proxies.push(proxy);
  return { clock, sre, up, proxy, audit };
}

function text(result: unknown): string {
  return ((result as { content: Array<{ text?: string }> }).content[0]?.text ?? "") as string;
}

function decision(result: unknown): Record<string, unknown> {
  const meta = (result as { _meta?: Record<string, unknown> })._meta;
  return (meta?.[DECISION_META_KEY] ?? {}) as Record<string, unknown>;
}

describe("every tools/call goes through the engine", () => {
  it("allow/deny: denied tools are hidden from the agent's list and refused with a reason", async () => {
    const { up, proxy } = setup({
      tools: { deny: ["fail"] },
      agents: { bot: { allowedTools: ["echo", "add"] } },
    });
    const c = await connectClient(proxy, { name: "bot" });
    expect((await c.client.listTools()).tools.map((t) => t.name).sort()).toEqual(["add", "echo"]);
    const refused = await c.client.callTool({ name: "slow", arguments: { steps: 1 } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(
      /^\[agent-sre\] Tool "slow" was not called: .*not on the allow list.*Do not retry/,
    );
    expect(decision(refused)).toMatchObject({
      decision: "refused",
      code: "TOOL_NOT_ALLOWED",
      retryable: false,
    });
    expect(up.log.calls).toHaveLength(0);

    // Another client (another agent) sees every tool but the fleet-wide denied one.
    const other = await connectClient(proxy, { name: "human" });
    const names = (await other.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("slow");
    expect(names).not.toContain("fail");
  });

  it("hiding denied tools follows the allow/deny lists even with rogue detection off", async () => {
    const { up, proxy } = setup({ rogue: false, tools: { deny: ["fail", "sl*"] } });
    const c = await connectClient(proxy);
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("echo");
    expect(names.filter((n) => n === "fail" || n.startsWith("sl"))).toEqual([]);
    expect(decision(await c.client.callTool({ name: "fail", arguments: {} })).code).toBe("TOOL_NOT_ALLOWED");
    expect(up.log.calls).toHaveLength(0);
  });

  it("agent identity: the client name by default, a _meta field overrides it (and is not forwarded)", async () => {
    const { up, proxy, audit } = setup({ agents: { bot: { allowedTools: ["echo"] } } });
    const c = await connectClient(proxy, { name: "bot" });
    const asOther = await c.client.callTool({
      name: "add",
      arguments: { a: 1, b: 2 },
      _meta: { "io.github.agent-sre/agent": "analyst", "io.github.agent-sre/task": "t-1", trace: "abc" },
    });
    expect(asOther.isError).toBeUndefined();
    expect(up.log.calls.at(-1)?.meta).toEqual({ trace: "abc" });
    const asBot = await c.client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    expect(decision(asBot).code).toBe("TOOL_NOT_ALLOWED");
    expect(audit.records.map((r) => [r.agent, r.task, r.decision])).toEqual([
      ["analyst", "t-1", "allowed"],
      ["bot", undefined, "refused"],
    ]);
  });

  it("a session binds its agent once: its calls carry the ref, a _meta agent's none, each session its own", async () => {
    const { sre, proxy } = setup({}, { identity: { default: "session" } });
    const seen: Array<[string, AgentRef | undefined]> = [];
    sre.use({ start: (call) => seen.push([call.agentId, call.agentRef]) });
    const first = await connectClient(proxy, { name: "bot" });
    const second = await connectClient(proxy, { name: "bot" });
    const firstId = first.session.defaultAgentId;
    await first.client.callTool({ name: "echo", arguments: { text: "1" } });
    await first.client.callTool({ name: "echo", arguments: { text: "2" } });
    await first.client.callTool({
      name: "echo",
      arguments: { text: "3" },
      _meta: { "io.github.agent-sre/agent": "analyst" },
    });
    await second.client.callTool({ name: "echo", arguments: { text: "4" } });
    const ref = seen[0]?.[1];
    expect(ref?.agentId).toBe(firstId);
    expect(seen).toEqual([
      [firstId, ref],
      [firstId, ref],
      ["analyst", undefined],
      [second.session.defaultAgentId, second.session.defaultAgentRef],
    ]);
    expect(second.session.defaultAgentId).not.toBe(firstId);
    expect(sre.status().agents[firstId]?.calls).toBe(2);
  });

  it("loop detection: the same call repeated is refused with advice to change course", async () => {
    const { up, proxy } = setup({ rogue: { loopRepeats: 3 } });
    const c = await connectClient(proxy);
    for (let i = 0; i < 2; i++) await c.client.callTool({ name: "echo", arguments: { text: "same" } });
    const third = await c.client.callTool({ name: "echo", arguments: { text: "same" } });
    expect(decision(third).code).toBe("LOOP_DETECTED");
    expect(text(third)).toMatch(/Stop repeating this call/);
    expect(up.log.calls).toHaveLength(2);
    const different = await c.client.callTool({ name: "echo", arguments: { text: "different" } });
    expect(different.isError).toBeUndefined();
  });

  it("budget: per-tool costs are reserved and charged; an exhausted budget refuses", async () => {
    const { sre, up, proxy, audit } = setup(
      { budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 0.05, orgMonthlyBudgetUsd: 100 } },
      { tools: { costs: { add: 0.02, "e*": 0.001 } } },
    );
    const c = await connectClient(proxy, { name: "payer" });
    await c.client.callTool({ name: "add", arguments: { a: 1, b: 1 } });
    await c.client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    await c.client.callTool({ name: "echo", arguments: { text: "x" } });
    const third = await c.client.callTool({ name: "add", arguments: { a: 1, b: 3 } });
    expect(decision(third).code).toBe("BUDGET_EXCEEDED");
    expect(text(third)).toMatch(/Do not retry this call/);
    expect(up.log.calls.filter((call) => call.tool === "add")).toHaveLength(2);
    expect(sre.budget.agentStatus("payer").spentTodayUsd).toBeCloseTo(0.041, 9);
    expect(audit.records.map((r) => r.costUsd)).toEqual([0.02, 0.02, 0.001, 0]);
  });

  it("call-rate limits (the engine's rateLimits) refuse with the time to wait, then admit again", async () => {
    const { clock, up, proxy, audit } = setup({
      agents: { bot: { deniedTools: ["echo"] } },
      rateLimits: [{ id: "echo-2pm", tools: "echo", limit: 2, per: "1m" }],
    });
    // A denied call is refused before the rate limit: it takes no admission.
    const bot = await connectClient(proxy, { name: "bot" });
    expect(decision(await bot.client.callTool({ name: "echo", arguments: { text: "0" } })).code).toBe(
      "TOOL_NOT_ALLOWED",
    );
    const c = await connectClient(proxy);
    await c.client.callTool({ name: "echo", arguments: { text: "1" } });
    await c.client.callTool({ name: "echo", arguments: { text: "2" } });
    const limited = await c.client.callTool({ name: "echo", arguments: { text: "3" } });
    expect(limited.isError).toBe(true);
    expect(decision(limited)).toEqual({
      decision: "refused",
      code: "RATE_LIMITED",
      retryable: true,
      retryAfterMs: 30_000,
      rule: "echo-2pm",
      limit: 2,
      perMs: 60_000,
    });
    expect(text(limited)).toBe(
      '[agent-sre] Tool "echo" was not called: rate limit "echo-2pm" allows 2 calls per minute. Retry after 30 s.',
    );
    expect(up.log.calls).toHaveLength(2);
    expect(audit.records.at(-1)).toMatchObject({
      tool: "echo",
      decision: "refused",
      outcome: "refused",
      code: "RATE_LIMITED",
    });
    // Other tools and other agents have buckets of their own.
    expect((await c.client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).isError).toBeUndefined();
    const other = await connectClient(proxy, { name: "other" });
    expect((await other.client.callTool({ name: "echo", arguments: { text: "o" } })).isError).toBeUndefined();
    clock.advance(29_999);
    expect(decision(await c.client.callTool({ name: "echo", arguments: { text: "4" } }))).toMatchObject({
      code: "RATE_LIMITED",
      retryAfterMs: 1,
    });
    clock.advance(30_000);
    expect(text(await c.client.callTool({ name: "echo", arguments: { text: "5" } }))).toBe("echo: 5");
  });

  it("a config file's rateLimits reach the engine", async () => {
    const config = parseConfig(
      {
        mcpServers: { up: { command: "unused" } },
        agentSre: { rateLimits: [{ id: "one-per-hour", tools: "add", limit: 1, per: "1h" }] },
      },
      { env: {} },
    );
    const up = fakeUpstream();
    const proxy = createProxyFromConfig(config, {
      upstreams: [{ name: "up", transport: up.spec }],
      logger: silentLogger,
    });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    expect(text(await c.client.callTool({ name: "add", arguments: { a: 1, b: 2 } }))).toBe("3");
    const limited = await c.client.callTool({ name: "add", arguments: { a: 2, b: 2 } });
    expect(decision(limited)).toMatchObject({ code: "RATE_LIMITED", rule: "one-per-hour" });
    expect(text(limited)).toMatch(/allows 1 call per hour\. Retry after 60 min\.$/);
    expect(up.log.calls).toHaveLength(1);
  });

  it("per-tool breaker: opens after failures, refuses without calling, probes and recovers", async () => {
    // The fake upstream's `flaky` reports its outage as isError results: the tool's failure (`provider`).
    const { clock, up, proxy, sre } = setup(
      { breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: 10_000 } } },
      { tools: { isErrorClass: "provider" } },
    );
    const c = await connectClient(proxy);
    up.setBroken(true);
    expect(text(await c.client.callTool({ name: "flaky", arguments: { n: 1 } }))).toBe("broken (1)");
    expect(text(await c.client.callTool({ name: "flaky", arguments: { n: 2 } }))).toBe("broken (2)");
    const open = await c.client.callTool({ name: "flaky", arguments: { n: 3 } });
    expect(decision(open)).toMatchObject({ code: "CIRCUIT_OPEN", retryable: true, retryAfterMs: 10_000 });
    expect(text(open)).toMatch(/temporarily unavailable.*Retry after 10 s/);
    expect(up.log.calls).toHaveLength(2);
    expect(sre.status().openCircuits).toEqual(["tool:flaky"]);
    // Other tools of the same upstream are unaffected.
    expect((await c.client.callTool({ name: "echo", arguments: { text: "ok" } })).isError).toBeUndefined();

    up.setBroken(false);
    clock.advance(10_000);
    expect(text(await c.client.callTool({ name: "flaky", arguments: { n: 4 } }))).toBe("fine (4)");
    expect(sre.status().openCircuits).toEqual([]);
  });

  it("errorsAreFailures: false keeps isError results out of the breaker", async () => {
    const { up, proxy, sre } = setup(
      { breakers: { defaults: { failureThreshold: 1 } } },
      { tools: { errorsAreFailures: false } },
    );
    const c = await connectClient(proxy);
    up.setBroken(true);
    for (let n = 0; n < 3; n++) await c.client.callTool({ name: "flaky", arguments: { n } });
    expect(up.log.calls).toHaveLength(3);
    expect(sre.status().openCircuits).toEqual([]);
  });

  it("chaos: an injected error is a transient, retryable failure the model can see", async () => {
    const { sre, up, proxy } = setup();
    sre.startExperiment(
      new ChaosExperiment({ name: "flaky-echo", faults: [errorInjection("tool:echo", { status: 503 })] }),
    );
    const c = await connectClient(proxy);
    const result = await c.client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(decision(result)).toMatchObject({ code: "CHAOS_INJECTED", retryable: true });
    expect(text(result)).toMatch(/transient error; you may retry/);
    expect(up.log.calls).toHaveLength(0);
    expect((await c.client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).isError).toBeUndefined();
  });

  it("timeouts: a configured timeout cancels the upstream call and tells the model", async () => {
    const { clock, up, proxy, audit } = setup({}, { tools: { timeoutMs: "5s" } });
    const c = await connectClient(proxy);
    const call = c.client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      timeout: 600_000,
    });
    await flush();
    expect(up.log.calls.at(-1)?.tool).toBe("hang");
    // The engine groups deadlines in slots of 1 % of the timeout: a call may time out up to that much late.
    clock.advance(4_999);
    await flush();
    expect(up.log.aborted).toHaveLength(0);
    clock.advance(51);
    const result = await call;
    expect(decision(result).code).toBe("TIMEOUT");
    expect(text(result)).toMatch(/Tool "hang" timed out after 5000 ms and was cancelled/);
    await flush();
    expect(up.log.aborted).toHaveLength(1);
    expect(audit.records.at(-1)).toMatchObject({
      tool: "hang",
      decision: "allowed",
      outcome: "timeout",
      code: "TIMEOUT",
    });
  });

  it("without a configured timeout a long call is never cut", async () => {
    const { clock, up, proxy } = setup();
    const c = await connectClient(proxy);
    const call = c.client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      timeout: 3_600_000,
    });
    await flush();
    clock.advance(10 * 60_000);
    await flush();
    up.release();
    expect(text(await call)).toBe("released");
  });

  it("per-server timeouts override the proxy-wide one", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const up = fakeUpstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: up.spec, timeoutMs: 100 }],
      sre,
      logger: silentLogger,
      tools: { timeoutMs: "1h" },
    });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    const call = c.client.callTool({ name: "hang", arguments: {} });
    await flush();
    clock.advance(101);
    expect(decision(await call).code).toBe("TIMEOUT");
  });
});
