import { parseTrace, Recorder, ReplayDivergenceError, ReplaySession, type Trace } from "@agent-sre/core";
import { AIMessageChunk, HumanMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { agentSREMiddleware, ReplayChatModel, replayTools } from "./index.js";
import { addTool, engine } from "./test-utils/harness.js";
import { reply, ScriptedChatModel } from "./test-utils/scripted-model.js";

const script = () => [
  reply("", { input: 100, output: 10 }, [{ name: "add", args: { a: 2, b: 3 }, id: "call-1" }]),
  reply("", { input: 120, output: 12 }, [{ name: "add", args: { a: 5, b: 10 }, id: "call-2" }]),
  reply("The total is 15.", { input: 140, output: 8 }),
];

async function record(): Promise<{ trace: Trace; answer: string; text: string }> {
  const { sre } = engine();
  const recorder = new Recorder({ source: "langchain" });
  const { add } = addTool();
  const agent = createAgent({
    model: new ScriptedChatModel({ script: script() }),
    tools: [add],
    systemPrompt: "You add numbers. Secret key: sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
    middleware: [agentSREMiddleware(sre, { agentId: "calc", taskId: "sum-1", record: recorder })],
  });
  const result = await agent.invoke({ messages: [new HumanMessage("Add 2 and 3, then add 10.")] });
  const run = recorder.endRun("calc", "sum-1");
  const answer = String(result.messages.at(-1)?.content);
  return { trace: parseTrace(run?.text ?? ""), answer, text: run?.text ?? "" };
}

function replayAgent(
  trace: Trace,
  options: ConstructorParameters<typeof ReplaySession>[1] = {},
  engineOptions = {},
) {
  const session = new ReplaySession(trace, options);
  const { sre } = engine({ ...engineOptions, clock: session.clock });
  session.attach(sre);
  const { add, calls } = addTool();
  const agent = createAgent({
    model: new ReplayChatModel(session),
    tools: replayTools([add], session),
    systemPrompt: "You add numbers. Secret key: sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
    middleware: [agentSREMiddleware(sre, { agentId: "calc", taskId: "sum-1" })],
  });
  return { session, agent, calls, sre };
}

describe("LangChain: record and replay through createAgent", () => {
  it("records model and tool calls; the replay reaches the identical outcome with zero live model calls", async () => {
    const { trace, answer, text } = await record();
    expect(answer).toBe("The total is 15.");
    expect(trace.calls.map((c) => `${c.seq}:${c.kind}:${c.name}`)).toEqual([
      "1:model:scripted-1",
      "2:tool:add",
      "3:model:scripted-1",
      "4:tool:add",
      "5:model:scripted-1",
    ]);
    expect(trace.calls[0]).toMatchObject({
      api: "langchain",
      request: {
        model: "scripted-1",
        messages: [{ type: "system" }, { type: "human", content: "Add 2 and 3, then add 10." }],
        tools: ["add"],
      },
      response: {
        type: "ai",
        tool_calls: [{ name: "add", args: { a: 2, b: 3 }, id: "call-1" }],
        usage_metadata: { input_tokens: 100 },
      },
    });
    expect(trace.calls[1]).toMatchObject({
      request: { a: 2, b: 3 },
      response: { type: "tool", content: "5", tool_call_id: "call-1" },
    });
    expect(text).not.toContain("sk-proj-ABCDEFGHIJKLMNOPQRSTUV");

    const { session, agent, calls, sre } = replayAgent(trace);
    const live = new ScriptedChatModel({ script: script() });
    const result = await agent.invoke({ messages: [new HumanMessage("Add 2 and 3, then add 10.")] });
    expect(String(result.messages.at(-1)?.content)).toBe(answer);
    expect(live.calls).toBe(0);
    expect(calls).toEqual([]); // tools answered from the trace
    expect(session.report()).toMatchObject({ ok: true, answered: 5, notReached: 0 });
    expect(sre.budget.agentStatus("calc").spentTodayUsd).toBeCloseTo(trace.end?.costUsd ?? Number.NaN, 12);
  });

  it("streams token chunks from the replay model (agent.stream, streamMode messages)", async () => {
    const { trace, answer } = await record();
    const { session, agent } = replayAgent(trace);
    const texts: string[] = [];
    const toolChunks: string[] = [];
    for await (const [chunk] of await agent.stream(
      { messages: [new HumanMessage("Add 2 and 3, then add 10.")] },
      { streamMode: "messages" },
    )) {
      if (AIMessageChunk.isInstance(chunk)) {
        if (chunk.text !== "") texts.push(chunk.text);
        for (const call of chunk.tool_call_chunks ?? []) toolChunks.push(`${call.name}:${call.args}`);
      }
    }
    expect(texts.join("")).toBe(answer);
    expect(toolChunks).toEqual(['add:{"a":2,"b":3}', 'add:{"a":5,"b":10}']);
    expect(session.report().ok).toBe(true);
  });

  it("a changed prompt is reported at the first model call", async () => {
    const { trace } = await record();
    const { session, agent } = replayAgent(trace);
    // LangChain wraps a model error in its MiddlewareError; the divergence is its cause.
    const failure = await agent
      .invoke({ messages: [new HumanMessage("Add 2 and 4, then add 10.")] })
      .catch((e: unknown) => e);
    expect((failure as Error).cause).toBeInstanceOf(ReplayDivergenceError);
    expect(session.divergence).toMatchObject({ seq: 1, reason: "request" });
    expect(session.divergence?.differences).toEqual([
      {
        path: "request.messages[1].content",
        expected: "Add 2 and 3, then add 10.",
        actual: "Add 2 and 4, then add 10.",
      },
    ]);
  });

  it("what-if: a deny rule on the tool reports the refusal at the first tool call", async () => {
    const { trace } = await record();
    const { session, agent } = replayAgent(trace, { onDivergence: "report" }, { tools: { deny: ["add"] } });
    await agent.invoke({ messages: [new HumanMessage("Add 2 and 3, then add 10.")] }).catch(() => undefined);
    const report = session.report();
    expect(report.whatIf[0]).toMatchObject({
      seq: 2,
      kind: "tool",
      name: "add",
      change: "refused",
      replayed: { code: "TOOL_NOT_ALLOWED" },
    });
  });
});
