import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE, type AgentSREOptions } from "../engine/agent-sre.js";
import { replayDecisions } from "./decisions.js";
import { diffTraces, formatTraceDiff } from "./diff.js";
import { parseTrace, type Trace } from "./format.js";
import { Recorder } from "./recorder.js";
import { formatReplayReport, ReplayDivergenceError, ReplaySession } from "./session.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const same0 = () => new AgentSRE();

interface Reply {
  text: string;
  toolCalls: Array<{ name: string; args: Record<string, unknown> }>;
  usage: { inputTokens: number; outputTokens: number };
}
type Message = { role: string; content: string };
type Llm = (request: { model: string; messages: Message[] }) => Promise<Reply>;

/** A tiny agent loop over the engine: model → tools → model … until the model answers without tools. */
async function agent(
  sre: AgentSRE,
  llm: Llm,
  tools: Record<string, (args: Record<string, unknown>) => Promise<unknown>>,
  prompt: string,
  options: { recorder?: Recorder; mangleArgs?: boolean } = {},
): Promise<string> {
  const messages: Message[] = [{ role: "user", content: prompt }];
  for (let step = 0; step < 6; step++) {
    const request = { model: "gpt-4o", messages: [...messages] };
    const call = {
      kind: "model" as const,
      agentId: "support",
      taskId: "ticket-1",
      name: "gpt-4o",
      provider: "openai",
      estimate: { inputTokens: 500, outputTokens: 1_000 },
      usage: (r: Reply) => r.usage,
    };
    options.recorder?.request(call, request, { api: "test" });
    let reply: Reply;
    try {
      reply = await sre.guard(call, async () => {
        const r = await llm(request);
        options.recorder?.response(call, r);
        return r;
      });
    } catch (error) {
      return `stopped: ${(error as { code?: string }).code ?? (error as Error).message}`;
    }
    messages.push({ role: "assistant", content: reply.text });
    if (reply.toolCalls.length === 0) return reply.text;
    for (const toolCall of reply.toolCalls) {
      const args = options.mangleArgs
        ? { ...toolCall.args, orderId: `${toolCall.args.orderId}0` }
        : toolCall.args;
      let result: unknown;
      try {
        const call = {
          kind: "tool" as const,
          agentId: "support",
          taskId: "ticket-1",
          name: toolCall.name,
          input: args,
        };
        result = await sre.guard(call, async () => {
          const out = await (tools[toolCall.name] as (a: Record<string, unknown>) => Promise<unknown>)(args);
          options.recorder?.response(call, out);
          return out;
        });
      } catch (error) {
        result = `error: ${(error as { code?: string }).code ?? (error as Error).message}`;
      }
      messages.push({ role: "tool", content: JSON.stringify(result) });
    }
  }
  return "too many steps";
}

const SCRIPT: Reply[] = [
  {
    text: "",
    toolCalls: [{ name: "lookup", args: { orderId: "42" } }],
    usage: { inputTokens: 1_200, outputTokens: 40 },
  },
  {
    text: "",
    toolCalls: [{ name: "refund", args: { orderId: "42", amountUsd: 30 } }],
    usage: { inputTokens: 1_400, outputTokens: 50 },
  },
  { text: "Refunded $30 for order 42.", toolCalls: [], usage: { inputTokens: 1_600, outputTokens: 20 } },
];

function liveWorld(clock: ManualClock) {
  let modelCalls = 0;
  let i = 0;
  const llm: Llm = async () => {
    modelCalls++;
    clock.advance(800);
    return SCRIPT[i++ % SCRIPT.length] as Reply;
  };
  const tools = {
    lookup: async (args: Record<string, unknown>) => {
      clock.advance(50);
      return { orderId: args.orderId, status: "delivered", totalUsd: 30 };
    },
    refund: async (args: Record<string, unknown>) => {
      clock.advance(70);
      return { refunded: args.amountUsd };
    },
  };
  return { llm, tools, calls: () => modelCalls };
}

async function record(
  options: { mangleArgs?: boolean; engine?: AgentSREOptions } = {},
): Promise<{ trace: Trace; outcome: string }> {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({ clock, ...options.engine });
  const recorder = new Recorder({ source: "test" });
  recorder.attach(sre);
  const world = liveWorld(clock);
  const outcome = await agent(sre, world.llm, world.tools, "Refund order 42", {
    recorder,
    mangleArgs: options.mangleArgs,
  });
  const run = recorder.endRun("support", "ticket-1");
  return { trace: parseTrace(run?.text ?? ""), outcome };
}

/** The stand-ins: the model and the tools answer from the session. */
function standIns(session: ReplaySession) {
  const llm: Llm = async (request) =>
    session.answer({ kind: "model", name: request.model, request, api: "test" }).response as Reply;
  const tool = (name: string) => async (args: Record<string, unknown>) =>
    session.answer({ kind: "tool", name, request: args }).response;
  return { llm, tools: { lookup: tool("lookup"), refund: tool("refund") } };
}

describe("replay", () => {
  it("replays a recorded multi-step run to the identical outcome with zero live model calls", async () => {
    const { trace, outcome } = await record();
    expect(trace.calls.map((c) => `${c.kind}:${c.name}`)).toEqual([
      "model:gpt-4o",
      "tool:lookup",
      "model:gpt-4o",
      "tool:refund",
      "model:gpt-4o",
    ]);

    const session = new ReplaySession(trace);
    const sre = new AgentSRE({ clock: session.clock });
    session.attach(sre);
    const live = liveWorld(session.clock);
    const { llm, tools } = standIns(session);
    const replayed = await agent(sre, llm, tools, "Refund order 42");
    expect(replayed).toBe(outcome);
    expect(live.calls()).toBe(0);
    const report = session.report();
    expect(report).toMatchObject({ ok: true, answered: 5, notReached: 0, whatIf: [], divergences: [] });
    // Time came from the trace: the replay engine settled each call with its recorded duration and cost.
    expect(report.calls.map((c) => c.costUsd)).toEqual(trace.calls.map((c) => c.costUsd ?? 0));
    expect(session.clock.now()).toBe(START + (trace.calls.at(-1)?.timing.startMs ?? 0) + 800);
  });

  it("stops at a changed prompt with a readable diff of that step", async () => {
    const { trace } = await record();
    const session = new ReplaySession(trace);
    const { llm, tools } = standIns(session);
    const sre = new AgentSRE({ clock: session.clock });
    const outcome = await agent(sre, llm, tools, "Refund order 43");
    expect(outcome).toBe("stopped: REPLAY_DIVERGED");
    const divergence = session.divergence;
    expect(divergence).toMatchObject({ seq: 1, reason: "request" });
    expect(divergence?.differences).toEqual([
      { path: "request.messages[0].content", expected: "Refund order 42", actual: "Refund order 43" },
    ]);
    expect(divergence?.message).toContain(
      'request.messages[0].content: "Refund order 42" → "Refund order 43"',
    );
  });

  it("reports a changed tool argument at the right step", async () => {
    const { trace } = await record();
    const session = new ReplaySession(trace);
    const { llm, tools } = standIns(session);
    const sre = new AgentSRE({ clock: session.clock });
    session.attach(sre);
    await agent(sre, llm, tools, "Refund order 42", { mangleArgs: true });
    expect(session.divergence).toMatchObject({
      seq: 2,
      kind: "tool",
      name: "lookup",
      reason: "request",
      differences: [{ path: "request.orderId", expected: "42", actual: "420" }],
    });
    expect(session.report().ok).toBe(false);
  });

  it("what-if in the application's own code: a deny rule reports the refusal at the right call", async () => {
    const { trace } = await record();
    const session = new ReplaySession(trace, { onDivergence: "report" });
    const sre = new AgentSRE({ clock: session.clock, tools: { deny: ["refund"] } });
    session.attach(sre);
    const { llm, tools } = standIns(session);
    await agent(sre, llm, tools, "Refund order 42");
    const report = session.report();
    expect(report.whatIf).toEqual([
      {
        seq: 4,
        kind: "tool",
        name: "refund",
        change: "refused",
        recorded: { outcome: "allowed" },
        replayed: expect.objectContaining({ outcome: "refused", code: "TOOL_NOT_ALLOWED" }),
      },
    ]);
    // The run then took another path (the model saw the refusal): reported as a consequence.
    expect(report.divergence).toMatchObject({ seq: 5, reason: "request", afterWhatIf: true });
    expect(formatReplayReport(report)).toContain(
      "what-if: #4 tool refund would have been refused: TOOL_NOT_ALLOWED",
    );
  });

  it("what-if without the application: a tighter budget stops the call it would have stopped", async () => {
    const { trace } = await record();
    const perCall = trace.calls.map((c) => c.costUsd ?? 0);
    expect(perCall[0]).toBeGreaterThan(0);
    // Enough for the first model call's reservation, not for the second one's on top of the first's cost.
    const reserveUsd =
      (same0().prices.costMicros("gpt-4o", { inputTokens: 500, outputTokens: 1_000 }, "openai") ?? 0) / 1e6;
    const limit = (perCall[0] as number) + reserveUsd * 0.9;
    const same = await replayDecisions(trace);
    expect(same.ok).toBe(true);
    expect(same.whatIf).toEqual([]);

    const tight = await replayDecisions(trace, { engine: { budget: { perTaskLimitUsd: limit } } });
    expect(tight.firstRefusal).toMatchObject({
      seq: 3,
      kind: "model",
      change: "refused",
      replayed: { code: "BUDGET_EXCEEDED" },
    });
    expect(tight.calls.map((c) => c.replayed)).toEqual([
      "answered",
      "answered",
      "refused",
      "answered",
      "refused",
    ]);

    const denied = await replayDecisions(trace, { engine: { tools: { deny: ["refund"] } } });
    expect(denied.firstRefusal).toMatchObject({
      seq: 4,
      name: "refund",
      replayed: { code: "TOOL_NOT_ALLOWED" },
    });
  });

  it("diffs two recordings step by step: identical runs are equal, a changed argument is the first divergence", async () => {
    const a = await record();
    const b = await record();
    expect(a.trace.header.runId).not.toBe(b.trace.header.runId);
    const same = diffTraces(a.trace, b.trace);
    expect(same.equal).toBe(true);

    const changed = await record({ mangleArgs: true });
    const diff = diffTraces(a.trace, changed.trace);
    expect(diff.equal).toBe(false);
    expect(diff.firstDivergence).toMatchObject({ seq: 2, status: "changed" });
    expect(diff.firstDivergence?.differences.map((d) => d.path)).toContain("request.orderId");
    const text = formatTraceDiff(diff, { a: "golden", b: "new" });
    expect(text).toContain('~ #2 tool lookup\n    request.orderId: "42" → "420"');
    expect(text).toContain("first divergence at step 2");
  });

  it("reports calls past the end of the recording, and a truncated recording", async () => {
    const { trace } = await record();
    const short: Trace = { ...trace, calls: trace.calls.slice(0, 2) };
    const session = new ReplaySession(short);
    session.answer({ kind: "model", name: "gpt-4o", request: trace.calls[0]?.request, api: "test" });
    session.answer({ kind: "tool", name: "lookup", request: trace.calls[1]?.request });
    expect(() => session.answer({ kind: "model", name: "gpt-4o", request: {}, api: "test" })).toThrow(
      ReplayDivergenceError,
    );
    expect(session.divergence?.reason).toBe("extra");

    const truncated = new ReplaySession({
      ...short,
      truncation: {
        type: "truncated",
        afterSeq: 2,
        reason: "maxRunBytes",
        droppedCalls: 3,
        droppedBytes: 900,
      },
    });
    truncated.answer({ kind: "model", name: "gpt-4o", request: trace.calls[0]?.request, api: "test" });
    truncated.answer({ kind: "tool", name: "lookup", request: trace.calls[1]?.request });
    expect(() => truncated.answer({ kind: "model", name: "gpt-4o", request: {}, api: "test" })).toThrow(
      /truncated recording/,
    );
  });
});
