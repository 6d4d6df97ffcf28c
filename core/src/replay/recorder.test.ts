import { describe, expect, it } from "vitest";
import { ChaosExperiment, errorInjection } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import type { GuardCall } from "../engine/types.js";
import { parseTrace } from "./format.js";
import { type RecordedRun, Recorder } from "./recorder.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

const model = (taskId = "t-1"): GuardCall<{ text: string }> => ({
  kind: "model",
  agentId: "support",
  taskId,
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 100, outputTokens: 200 },
  usage: () => ({ inputTokens: 1_000, outputTokens: 500 }),
});

const tool = (name: string, input: unknown, taskId = "t-1"): GuardCall<unknown> => ({
  kind: "tool",
  agentId: "support",
  taskId,
  name,
  input,
});

function setup(
  options: ConstructorParameters<typeof Recorder>[0] = {},
  engine: ConstructorParameters<typeof AgentSRE>[0] = {},
) {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({ clock, ...engine });
  const written: RecordedRun[] = [];
  const recorder = new Recorder({ sink: { write: (run) => void written.push(run) }, ...options });
  recorder.attach(sre);
  return { clock, sre, recorder, written };
}

describe("Recorder", () => {
  it("writes a run's calls in order with the engine's decisions, usage, cost and timings", async () => {
    const { clock, sre, recorder, written } = setup(
      { seed: 7, source: "test", config: { tools: { deny: ["rm"] } } },
      { tools: { deny: ["rm"] } },
    );
    const first = model();
    recorder.request(first, { messages: [{ role: "user", content: "refund 42" }] }, { api: "test.chat" });
    await sre.guard(first, async () => {
      clock.advance(120);
      const reply = { text: "calling lookup" };
      recorder.response(first, reply);
      return reply;
    });
    await sre.guard(tool("lookup", { orderId: "42" }), async () => {
      clock.advance(30);
      return { status: "shipped" };
    });
    await expect(sre.guard(tool("rm", { path: "/" }), () => "never")).rejects.toMatchObject({
      code: "TOOL_NOT_ALLOWED",
    });
    await expect(
      sre.guard(tool("flaky", {}), async () => {
        throw Object.assign(new Error("upstream 503"), { status: 503 });
      }),
    ).rejects.toThrow("upstream 503");

    const run = recorder.endRun("support", "t-1");
    expect(run).toBeDefined();
    expect(written).toEqual([run]);
    const trace = parseTrace(run?.text ?? "");
    expect(trace.header).toMatchObject({
      format: "agent-sre-trace",
      version: 1,
      agentId: "support",
      taskId: "t-1",
      seed: 7,
      source: "test",
      startedAtMs: START,
      config: { tools: { deny: ["rm"] } },
    });
    expect(trace.header.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.header.configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(trace.calls.map((c) => [c.seq, c.kind, c.name, c.decision.outcome, c.ok])).toEqual([
      [1, "model", "gpt-4o", "allowed", true],
      [2, "tool", "lookup", "allowed", true],
      [3, "tool", "rm", "refused", false],
      [4, "tool", "flaky", "allowed", false],
    ]);
    const [m, lookup, rm, flaky] = trace.calls;
    expect(m).toMatchObject({
      api: "test.chat",
      request: { messages: [{ role: "user", content: "refund 42" }] },
      response: { text: "calling lookup" },
      usage: { inputTokens: 1_000, outputTokens: 500 },
      estimate: { inputTokens: 100, outputTokens: 200 },
      timing: { startMs: 0, durationMs: 120 },
    });
    expect(m?.costUsd).toBeGreaterThan(0);
    expect(m?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(lookup).toMatchObject({
      api: "engine",
      request: { orderId: "42" },
      timing: { startMs: 120, durationMs: 30 },
    });
    expect(rm?.decision).toMatchObject({ outcome: "refused", code: "TOOL_NOT_ALLOWED" });
    expect(flaky?.error).toMatchObject({ name: "Error", message: "upstream 503", status: 503 });
    expect(trace.end).toMatchObject({ calls: 4, outcome: "refused", truncated: false, durationMs: 150 });
  });

  it("keeps runs apart by agent and task, and records injected chaos faults", async () => {
    const { sre, recorder } = setup({}, { chaosSeed: 1 });
    sre.startExperiment(
      new ChaosExperiment({
        name: "errors",
        faults: [errorInjection("tool:search", { error: "service_unavailable", rate: 1 })],
      }),
    );
    await sre.guard(model("a"), async () => ({ text: "a" }));
    await sre.guard(model("b"), async () => ({ text: "b" }));
    await expect(sre.guard(tool("search", { q: "x" }, "a"), async () => "hits")).rejects.toMatchObject({
      code: "CHAOS_INJECTED",
    });
    const [a, b] = recorder.flush().map((run) => parseTrace(run.text));
    expect(a?.header.taskId).toBe("a");
    expect(a?.calls.map((c) => c.name)).toEqual(["gpt-4o", "search"]);
    expect(a?.calls[1]?.chaos).toMatchObject({
      experiment: "errors",
      faults: [{ type: "error", code: "CHAOS_INJECTED" }],
    });
    expect(a?.calls[1]?.error).toMatchObject({ code: "CHAOS_INJECTED" });
    expect(a?.end?.outcome).toBe("failed");
    expect(b?.calls.map((c) => c.name)).toEqual(["gpt-4o"]);
    expect(recorder.openRuns).toBe(0);
  });

  it("redacts secrets (keys, bearer tokens, API keys, configured paths) before anything is written", async () => {
    const { sre, recorder } = setup({
      redact: { paths: ["request.customer.ssn", "response.**.email"], keys: ["x-internal"] },
      config: { providerApiKey: "sk-live-abcdefghijklmnopqrstuvwx" },
    });
    const call = tool("crm", {
      apiKey: "k-123456789",
      note: "use Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abcdefghijkl and key sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
      customer: { name: "Ann", ssn: "123-45-6789" },
      headers: { "X-Internal": "secret-value", Accept: "json" },
      url: "https://bob:hunter2@example.com/path",
    });
    recorder.request(call, call.input);
    await sre.guard(call, async () => {
      const result = { contacts: [{ email: "ann@example.com", name: "Ann" }], token: "tok-999" };
      recorder.response(call, result);
      return result;
    });
    const text = recorder.endRun("support", "t-1")?.text ?? "";
    for (const secret of [
      "k-123456789",
      "eyJhbGciOiJIUzI1NiJ9",
      "sk-proj-ABCD",
      "123-45-6789",
      "secret-value",
      "hunter2",
      "ann@example.com",
      "tok-999",
      "sk-live-abc",
    ]) {
      expect(text).not.toContain(secret);
    }
    const step = parseTrace(text).calls[0];
    expect(step?.request).toMatchObject({
      apiKey: "[REDACTED]",
      customer: { name: "Ann", ssn: "[REDACTED]" },
      headers: { "X-Internal": "[REDACTED]", Accept: "json" },
      url: "https://[REDACTED]@example.com/path",
    });
    expect(String((step?.request as { note?: string } | undefined)?.note)).toContain("Bearer [REDACTED]");
    expect(step?.response).toMatchObject({
      contacts: [{ email: "[REDACTED]", name: "Ann" }],
      token: "[REDACTED]",
    });
  });

  it("keeps a large run within maxRunBytes: a truncation marker, then the end line", async () => {
    const { sre, recorder } = setup({ maxRunBytes: 20_000, maxStringChars: 1_000 });
    for (let i = 0; i < 200; i++) {
      const call = tool("fetch", { page: i });
      recorder.request(call, call.input);
      await sre.guard(call, async () => {
        const body = { page: i, html: "x".repeat(5_000) };
        recorder.response(call, body);
        return body;
      });
    }
    const run = recorder.endRun("support", "t-1");
    expect(run?.bytes).toBeLessThanOrEqual(20_000);
    const trace = parseTrace(run?.text ?? "");
    expect(trace.calls.length).toBeGreaterThan(5);
    expect(trace.calls.length).toBeLessThan(200);
    expect(trace.calls.map((c) => c.seq)).toEqual(trace.calls.map((_, i) => i + 1));
    expect(trace.truncation).toMatchObject({
      reason: "maxRunBytes",
      afterSeq: trace.calls.length,
      droppedCalls: 200 - trace.calls.length,
    });
    expect(trace.end).toMatchObject({ calls: 200, truncated: true });
    // Long strings are cut with a marker.
    const html = (trace.calls[0]?.response as { html?: string } | undefined)?.html;
    expect(html).toMatch(/^x{1000}…\[truncated 4000 chars\]$/);
  });

  it("samples: only failed or refused runs, or a seeded share of runs", async () => {
    const failed = setup({ sampling: "failed-or-refused" }, { tools: { deny: ["rm"] } });
    await failed.sre.guard(tool("ls", {}, "ok-run"), async () => "files");
    await expect(failed.sre.guard(tool("rm", {}, "bad-run"), async () => "gone")).rejects.toThrow();
    failed.recorder.flush();
    expect(failed.written.map((r) => r.header.taskId)).toEqual(["bad-run"]);

    const none = setup({ sampling: { rate: 0 } });
    const all = setup({ sampling: { rate: 1 } });
    const half = setup({ sampling: { rate: 0.5 }, seed: 3 });
    for (const { sre } of [none, all, half]) {
      for (let i = 0; i < 40; i++) await sre.guard(tool("ls", { i }, `task-${i}`), async () => "files");
    }
    for (const { recorder } of [none, all, half]) recorder.flush();
    expect(none.written).toHaveLength(0);
    expect(all.written).toHaveLength(40);
    expect(half.written.length).toBeGreaterThan(5);
    expect(half.written.length).toBeLessThan(35);
  });

  it("ends idle runs and bounds the number of open runs", async () => {
    const { clock, sre, recorder, written } = setup({ runIdleMs: 60_000, maxOpenRuns: 3 });
    await sre.guard(tool("ls", {}, "old"), async () => "x");
    clock.advance(61_000);
    await sre.guard(tool("ls", { n: 2 }, "new"), async () => "x");
    expect(written.map((r) => [r.header.taskId, r.end.reason])).toEqual([["old", "idle"]]);
    for (const task of ["b", "c", "d"]) await sre.guard(tool("ls", { task }, task), async () => "x");
    expect(recorder.openRuns).toBe(3);
    expect(written.map((r) => r.end.reason)).toEqual(["idle", "evicted"]);
  });

  it("rejects unknown options and bad values, naming the field", () => {
    expect(() => new Recorder({ sampling: "some" as never })).toThrow(/record\.sampling/);
    expect(() => new Recorder({ maxRunBytes: 0 })).toThrow(/record\.maxRunBytes/);
    expect(() => new Recorder({ bogus: 1 } as never)).toThrow(/record\.bogus/);
    expect(() => new Recorder({ redact: { paths: ["a..b"] } })).toThrow(/redact\.paths\[0\]/);
  });

  it("never breaks a call when the sink throws", async () => {
    const errors: unknown[] = [];
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock });
    const recorder = new Recorder({
      sink: {
        write: () => {
          throw new Error("disk full");
        },
      },
      onError: (e) => errors.push(e),
    });
    recorder.attach(sre);
    await sre.guard(tool("ls", {}), async () => "x");
    recorder.flush();
    expect(errors).toHaveLength(1);
  });
});
