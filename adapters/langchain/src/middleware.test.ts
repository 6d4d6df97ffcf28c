import {
  type AgentRef,
  CHAOS_CANARY,
  ChaosExperiment,
  ConfigError,
  errorInjection,
  latencyInjection,
  promptInjection,
  RefusalError,
  timeoutInjection,
} from "@agent-sre/core";
import { type AIMessage, ToolMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import { createAgent, humanInTheLoopMiddleware, MiddlewareError, tool } from "langchain";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { type AgentSREUsageState, agentSREMiddleware, refusalFrom, sreMetadata } from "./index.js";
import { addTool, drive, engine, priceOf, textOf, transcript } from "./test-utils/harness.js";
import { reply, ScriptedChatModel } from "./test-utils/scripted-model.js";

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] });
const addCall = (a: number, b: number, id: string) => ({ name: "add", args: { a, b }, id });

describe("agentSREMiddleware: model calls", () => {
  it("records each model call once, priced by the model the provider reports", async () => {
    const { sre, completed } = engine();
    const { add, calls } = addTool();
    const large = reply("3", { input: 150, output: 5 });
    large.response_metadata = { model_name: "scripted-1-large" };
    const model = new ScriptedChatModel({
      script: [reply("", { input: 100, output: 20 }, [addCall(1, 2, "c1")]), large],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    expect(transcript(result.messages)).toEqual(["human:1+2?", "ai:", "tool:3", "ai:3"]);
    expect(calls).toEqual([{ a: 1, b: 2 }]);
    const models = completed.filter((event) => event.kind === "model");
    expect(models.map((event) => [event.name, event.inputTokens, event.outputTokens])).toEqual([
      ["scripted-1", 100, 20],
      ["scripted-1", 150, 5],
    ]);
    // The first call falls back to the requested model; the second is priced as the model the response names.
    expect(models[0]?.costUsd).toBeCloseTo(priceOf("scripted-1", 100, 20), 12);
    expect(models[1]?.costUsd).toBeCloseTo(priceOf("scripted-1-large", 150, 5), 12);
    expect(completed.filter((event) => event.kind === "tool").map((event) => event.name)).toEqual(["add"]);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(
      priceOf("scripted-1", 100, 20) + priceOf("scripted-1-large", 150, 5),
      9,
    );
  });

  it("ends the run gracefully when the task budget runs out mid-run (default)", async () => {
    // Each model call reserves ~1,030 tokens ($0.04 at $40/M output); the first spends $0.0588, which
    // leaves less than the 64 output tokens a call needs at least (minOutputTokens).
    const { sre, refused } = engine({ budget: { perTaskLimitUsd: 0.06, perAgentDailyLimitUsd: 10 } });
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 80, output: 1450 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 100, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    expect(model.calls).toBe(1);
    const last = result.messages.at(-1) as AIMessage;
    expect(last.type).toBe("ai");
    expect(last.tool_calls ?? []).toEqual([]);
    expect(textOf(last)).toContain("BUDGET_EXCEEDED");
    expect(sreMetadata(last)).toMatchObject({
      action: "end",
      code: "BUDGET_EXCEEDED",
      kind: "model",
      agentId: "a",
    });
    expect(refused.map((event) => event.code)).toEqual(["BUDGET_EXCEEDED"]);
  });

  it("admits a call the budget cannot fully reserve with a lower cap instead of refusing it", async () => {
    // The first call spends $0.0408 of $0.06: the next can no longer reserve its 1,024 output tokens
    // ($0.041), but ~470 still fit, more than minOutputTokens (64): it runs with its cap lowered to that.
    const { sre, refused } = engine({ budget: { perTaskLimitUsd: 0.06, perAgentDailyLimitUsd: 10 } });
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 80, output: 1000 }, [addCall(1, 2, "c1")]),
        reply("y".repeat(2000), { input: 100, output: 400 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a", taskId: "t" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    expect(model.calls).toBe(2);
    expect(refused).toEqual([]);
    const cap = model.seen[1]?.maxTokens as number;
    expect(cap).toBeGreaterThan(64);
    expect(cap).toBeLessThan(1024);
    // Everything the capped call may produce fits what was left.
    const spentBefore = priceOf("scripted-1", 80, 1000);
    expect(spentBefore + priceOf("scripted-1", 0, cap)).toBeLessThanOrEqual(0.06);
    expect(textOf(result.messages.at(-1) as AIMessage)).toHaveLength(cap);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(
      spentBefore + priceOf("scripted-1", 100, 400),
      12,
    );
  });

  it("throws the typed refusal in error mode", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.06, perAgentDailyLimitUsd: 10 } });
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 80, output: 1450 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 100, output: 5 }),
      ],
    });
    const middleware = agentSREMiddleware(sre, { agentId: "a", onViolation: "error" });
    const agent = createAgent({ model, tools: [add], middleware: [middleware] });

    const error = await agent.invoke(ask("1+2?")).catch((caught: unknown) => caught);

    expect(MiddlewareError.isInstance(error)).toBe(true);
    const refusal = refusalFrom(error);
    expect(refusal).toBeInstanceOf(RefusalError);
    expect(refusal?.code).toBe("BUDGET_EXCEEDED");
    expect(model.calls).toBe(1);
  });

  it("ends the run of a quarantined or killed agent without calling the model", async () => {
    const { sre } = engine();
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });

    sre.quarantine("a", "manual review");
    const quarantined = await agent.invoke(ask("hello"));
    expect(sreMetadata(quarantined.messages.at(-1) as AIMessage)?.code).toBe("AGENT_QUARANTINED");
    sre.release("a");

    // An open breaker is thrown like the provider error it stands for (fallback middleware can act on it).
    sre.agentBreaker("a").forceOpen("incident");
    const stopped = await agent.invoke(ask("hello")).catch((caught: unknown) => caught);
    expect(MiddlewareError.isInstance(stopped)).toBe(true);
    expect(refusalFrom(stopped)?.code).toBe("CIRCUIT_OPEN");
    expect(model.calls).toBe(0);
    sre.agentBreaker("a").reset();

    const ok = await agent.invoke(ask("hello"));
    expect(transcript(ok.messages)).toEqual(["human:hello", "ai:hi"]);
    expect(model.calls).toBe(1);
  });

  it("clamps the model's output cap to what the task can still afford", async () => {
    // $0.01 left in the task at $40/M output: 250 tokens, below the model's cap of 4,000.
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.01, perAgentDailyLimitUsd: 10 } });
    const model = new ScriptedChatModel({
      maxTokens: 4000,
      script: [reply("x".repeat(1000), { input: 10, output: 250 })],
    });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [
        agentSREMiddleware(sre, { agentId: "a", estimate: () => ({ inputTokens: 0, outputTokens: 100 }) }),
      ],
    });

    const result = await agent.invoke(ask("write a lot"));

    expect(model.seen[0]?.maxTokens).toBe(250);
    expect(model.maxTokens).toBe(4000); // the shared instance is untouched
    expect(textOf(result.messages.at(-1) as AIMessage)).toHaveLength(250);
  });

  it("injects chaos faults into model calls: a provider error is thrown like one", async () => {
    const { sre } = engine();
    sre.startExperiment(
      new ChaosExperiment({ name: "model-outage", faults: [errorInjection("model:*", { status: 503 })] }),
    );
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });

    const error = await agent.invoke(ask("hello")).catch((caught: unknown) => caught);

    expect(refusalFrom(error)?.code).toBe("CHAOS_INJECTED");
    expect(model.calls).toBe(0);
  });

  it("delivers prompt-injection payloads into the model input", async () => {
    const { sre } = engine();
    const experiment = new ChaosExperiment({
      name: "injection",
      faults: [promptInjection("model:*", { technique: "system-override" })],
    });
    sre.startExperiment(experiment);
    const model = new ScriptedChatModel({ script: [reply("ok", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });

    const result = await agent.invoke(ask("hello"));

    const sent = model.seen[0]?.messages ?? [];
    expect(textOf(sent.at(-1) as AIMessage)).toContain(CHAOS_CANARY);
    expect(textOf(sent.at(-1) as AIMessage)).toMatch(/^hello/);
    // The agent's own state keeps the user's message as it was.
    expect(textOf(result.messages[0] as AIMessage)).toBe("hello");
    expect(experiment.report().injectedTotal).toBe(1);
  });

  it("places a result payload in the model's reply and still records the call's usage once", async () => {
    const { sre, completed } = engine();
    const experiment = new ChaosExperiment({
      name: "poisoned-replies",
      faults: [promptInjection("model:*", { technique: "system-override", where: "result" })],
    });
    sre.startExperiment(experiment);
    const model = new ScriptedChatModel({ script: [reply("ok", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });

    const result = await agent.invoke(ask("hello"));

    const answer = result.messages.at(-1) as AIMessage;
    expect(textOf(answer)).toMatch(/^ok\n\n/);
    expect(textOf(answer)).toContain(CHAOS_CANARY);
    const models = completed.filter((event) => event.kind === "model");
    expect(models.map((event) => [event.inputTokens, event.outputTokens])).toEqual([[10, 2]]);
  });

  it("writes per-thread usage to state when asked", async () => {
    const { sre } = engine();
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 100, output: 20 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 150, output: 5 }),
        reply("again", { input: 200, output: 7 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      checkpointer: new MemorySaver(),
      middleware: [agentSREMiddleware(sre, { agentId: "a", usageStateKey: "sreUsage" })],
    });
    const thread = { configurable: { thread_id: "t-1" } };

    const first = (await agent.invoke(ask("1+2?"), thread)) as unknown as { sreUsage: AgentSREUsageState };
    expect(first.sreUsage).toEqual({
      modelCalls: 2,
      inputTokens: 250,
      outputTokens: 25,
      costUsd: expect.closeTo(priceOf("scripted-1", 250, 25), 12),
    });
    const second = (await agent.invoke(ask("again"), thread)) as unknown as { sreUsage: AgentSREUsageState };
    expect(second.sreUsage.modelCalls).toBe(3);
    expect(second.sreUsage.outputTokens).toBe(32);
  });

  it("makes each user turn its own task by default", async () => {
    const { sre, completed } = engine();
    const model = new ScriptedChatModel({
      script: [reply("one", { input: 10, output: 2 }), reply("two", { input: 10, output: 2 })],
    });
    const agent = createAgent({
      model,
      tools: [],
      checkpointer: new MemorySaver(),
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });
    const thread = { configurable: { thread_id: "t-1" } };
    const first = await agent.invoke(ask("first"), thread);
    await agent.invoke(ask("second"), thread);

    const tasks = completed.map((event) => event.taskId);
    expect(tasks).toHaveLength(2);
    expect(tasks[0]).toBe(first.messages[0]?.id);
    expect(tasks[1]).not.toBe(tasks[0]);
  });
});

describe("agentSREMiddleware: tool calls", () => {
  it("a tool that answers with an error ToolMessage: returned as it is, a failed call, its retry a second attempt", async () => {
    const { sre, completed } = engine();
    const guard = vi.spyOn(sre, "guard");
    const middleware = agentSREMiddleware(sre, { agentId: "a" });
    const wrapToolCall = middleware.wrapToolCall as unknown as (
      request: unknown,
      handler: (request: unknown) => Promise<ToolMessage>,
    ) => Promise<ToolMessage>;
    const toolCall = { name: "lookup", args: { id: 7 }, id: "c1" };
    const request = { toolCall, state: { messages: [] }, runtime: { context: undefined } };
    const answer = new ToolMessage({ content: "no such order", tool_call_id: "c1", status: "error" });

    expect(await wrapToolCall(request, async () => answer)).toBe(answer);
    expect(await wrapToolCall(request, async () => answer)).toBe(answer);

    expect(completed.map((event) => event.ok)).toEqual([false, false]);
    expect(sre.breakers.get("tool:lookup").snapshot().failureCount).toBe(2);
    expect(guard.mock.calls.map(([call]) => call.attempt)).toEqual([1, 2]);
  });

  it("answers a forbidden tool with an error ToolMessage and lets the model react", async () => {
    const { sre } = engine({ agents: { a: { allowedTools: ["add"] } } });
    const { add } = addTool();
    let dropped = 0;
    const dropTable = tool(
      async () => {
        dropped++;
        return "dropped";
      },
      { name: "drop_table", description: "Drops a table.", schema: z.object({ table: z.string() }) },
    );
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "drop_table", args: { table: "users" }, id: "c1" }]),
        reply("I cannot do that.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add, dropTable],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("drop the users table"));

    expect(dropped).toBe(0);
    const toolMessage = result.messages[2] as ToolMessage;
    expect(ToolMessage.isInstance(toolMessage)).toBe(true);
    expect(toolMessage.status).toBe("error");
    expect(toolMessage.tool_call_id).toBe("c1");
    expect(textOf(toolMessage)).toContain("not allowed");
    expect(sreMetadata(toolMessage)).toMatchObject({ action: "continue", code: "TOOL_NOT_ALLOWED" });
    // The model saw the refusal and answered.
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("I cannot do that.");
    expect(model.calls).toBe(2);
  });

  it("lets an ordinary tool error propagate as thrown (default), as LangChain does with any wrapToolCall", async () => {
    const { sre, completed } = engine();
    const failure = new Error("database unreachable");
    const broken = tool(
      async () => {
        throw failure;
      },
      { name: "lookup", description: "Looks up.", schema: z.object({ id: z.number() }) },
    );
    const model = new ScriptedChatModel({
      script: [reply("", { input: 10, output: 5 }, [{ name: "lookup", args: { id: 1 }, id: "c1" }])],
    });
    const agent = createAgent({
      model,
      tools: [broken],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const error = await agent.invoke(ask("look up 1")).catch((caught: unknown) => caught);

    // The tool's own error object, not wrapped: retry middleware outside sees exactly what the tool threw.
    expect(error).toBe(failure);
    expect(completed.find((event) => event.kind === "tool")).toMatchObject({ name: "lookup", ok: false });
  });

  it('turns tool errors into error ToolMessages with toolErrors: "continue"', async () => {
    const { sre, completed } = engine();
    const broken = tool(
      async () => {
        throw new Error("database unreachable");
      },
      { name: "lookup", description: "Looks up.", schema: z.object({ id: z.number() }) },
    );
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "lookup", args: { id: 1 }, id: "c1" }]),
        reply("Sorry, the lookup failed.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [broken],
      middleware: [agentSREMiddleware(sre, { agentId: "a", toolErrors: "continue" })],
    });

    const result = await agent.invoke(ask("look up 1"));

    const toolMessage = result.messages[2] as ToolMessage;
    expect(toolMessage.status).toBe("error");
    expect(textOf(toolMessage)).toBe("Error: database unreachable\n Please fix your mistakes.");
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("Sorry, the lookup failed.");
    expect(completed.find((event) => event.kind === "tool")).toMatchObject({ name: "lookup", ok: false });
  });

  it("opens a tool's breaker after failures, refuses while open, and recovers after the cooldown", async () => {
    const { sre, clock } = engine({
      breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: "30s" } },
    });
    let healthy = false;
    let runs = 0;
    const flaky = tool(
      async ({ q }: { q: string }) => {
        runs++;
        if (!healthy) throw new Error("upstream 502");
        return `result for ${q}`;
      },
      { name: "search", description: "Searches.", schema: z.object({ q: z.string() }) },
    );
    const search = (q: string, id: string) => ({ name: "search", args: { q }, id });
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [search("a", "c1")]),
        reply("", { input: 10, output: 5 }, [search("b", "c2")]),
        reply("", { input: 10, output: 5 }, [search("c", "c3")]),
        reply("giving up", { input: 10, output: 5 }),
        reply("", { input: 10, output: 5 }, [search("d", "c4")]),
        reply("found it", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [flaky],
      middleware: [agentSREMiddleware(sre, { agentId: "a", toolErrors: "continue" })],
    });

    const first = await agent.invoke(ask("search"));
    const results = first.messages.filter((message) => ToolMessage.isInstance(message)) as ToolMessage[];
    expect(results.map((message) => message.status)).toEqual(["error", "error", "error"]);
    expect(sreMetadata(results[2] as ToolMessage)?.code).toBe("CIRCUIT_OPEN");
    expect(runs).toBe(2); // the third call never reached the tool
    expect(sre.breakers.get("tool:search").state).toBe("OPEN");

    healthy = true;
    clock.advance(30_000);
    const second = await agent.invoke(ask("search again"));
    expect(textOf(second.messages.at(-2) as ToolMessage)).toBe("result for d");
    expect(textOf(second.messages.at(-1) as AIMessage)).toBe("found it");
    expect(sre.breakers.get("tool:search").state).toBe("CLOSED");
  });

  it("detects a tool loop and answers it with an error ToolMessage (default)", async () => {
    const { sre } = engine();
    const { add, calls } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c1")]),
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c2")]),
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c3")]),
        reply("The answer is 3.", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    expect(calls).toHaveLength(2);
    const looped = result.messages.filter((message) => ToolMessage.isInstance(message)).at(-1) as ToolMessage;
    expect(sreMetadata(looped)?.code).toBe("LOOP_DETECTED");
    expect(textOf(looped)).toContain("loop detected");
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("The answer is 3.");
  });

  it("stops a tool loop by ending the run when configured", async () => {
    const { sre } = engine();
    const { add, calls } = addTool();
    const model = new ScriptedChatModel({
      repeatLast: true,
      script: [
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c1")]),
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c2")]),
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c3")]),
      ],
    });
    const middleware = agentSREMiddleware(sre, {
      agentId: "a",
      onViolation: { tool: { LOOP_DETECTED: "end" } },
    });
    const agent = createAgent({ model, tools: [add], middleware: [middleware] });

    const result = await agent.invoke(ask("1+2?"));

    expect(calls).toHaveLength(2);
    expect(model.calls).toBe(3); // no model call after the loop was detected
    const [toolMessage, last] = result.messages.slice(-2) as [ToolMessage, AIMessage];
    expect(toolMessage.status).toBe("error");
    expect(sreMetadata(toolMessage)).toMatchObject({ action: "end", code: "LOOP_DETECTED" });
    expect(last.type).toBe("ai");
    expect(sreMetadata(last)?.code).toBe("LOOP_DETECTED");
    expect(textOf(last)).toContain("stopped by Agent SRE");
  });

  it("injects tool errors at the configured rate", async () => {
    const { sre } = engine({ chaosSeed: 7, rogue: false });
    const experiment = new ChaosExperiment({
      name: "flaky-add",
      faults: [errorInjection("tool:add", { rate: 0.3 })],
    });
    sre.startExperiment(experiment);
    const { add, calls } = addTool();
    const total = 200;
    const toolCalls = Array.from({ length: total }, (_, i) => addCall(i, 1, `c${i}`));
    const model = new ScriptedChatModel({
      script: [reply("", { input: 10, output: 5 }, toolCalls), reply("done", { input: 10, output: 5 })],
    });
    // Injected faults follow toolErrors: answered here, so the model sees each one.
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a", toolErrors: "continue" })],
    });

    const result = await agent.invoke(ask("add them all"));

    const results = result.messages.filter((message) => ToolMessage.isInstance(message)) as ToolMessage[];
    const injected = results.filter((message) => sreMetadata(message)?.code === "CHAOS_INJECTED");
    expect(results).toHaveLength(total);
    expect(injected.length).toBe(experiment.report().injected["error@tool:add"]);
    expect(injected.length + calls.length).toBe(total);
    expect(injected.length / total).toBeGreaterThan(0.2);
    expect(injected.length / total).toBeLessThan(0.4);
    expect(textOf(injected[0] as ToolMessage)).toContain("503");
  });

  it("injects latency and timeouts into tool calls on the engine's clock", async () => {
    const { sre, clock, completed } = engine();
    sre.startExperiment(
      new ChaosExperiment({
        name: "slow-tools",
        faults: [
          latencyInjection("tool:add", { delayMs: 5000 }),
          timeoutInjection("tool:slow_add", { delayMs: 2000 }),
        ],
      }),
    );
    const { add, calls } = addTool();
    let slowRuns = 0;
    const slowAdd = tool(
      async ({ a, b }: { a: number; b: number }) => {
        slowRuns++;
        return String(a + b);
      },
      { name: "slow_add", description: "Adds slowly.", schema: z.object({ a: z.number(), b: z.number() }) },
    );
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [
          addCall(1, 2, "c1"),
          { name: "slow_add", args: { a: 3, b: 4 }, id: "c2" },
        ]),
        reply("done", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add, slowAdd],
      middleware: [agentSREMiddleware(sre, { agentId: "a", toolErrors: "continue" })],
    });

    const result = await drive(clock, agent.invoke(ask("add")));

    expect(calls).toHaveLength(1);
    expect(slowRuns).toBe(0);
    const [added, timedOut] = result.messages.filter((message) =>
      ToolMessage.isInstance(message),
    ) as ToolMessage[];
    expect(textOf(added as ToolMessage)).toBe("3");
    expect(sreMetadata(timedOut as ToolMessage)?.code).toBe("TIMEOUT");
    const addEvent = completed.find((event) => event.name === "add");
    expect(addEvent?.durationMs).toBe(5000);
    expect(completed.find((event) => event.name === "slow_add")).toMatchObject({
      ok: false,
      durationMs: 2000,
    });
  });

  it("times out a tool that does not answer and returns an error ToolMessage", async () => {
    const { sre, clock } = engine();
    const hanging = tool(() => new Promise<string>(() => undefined), {
      name: "hang",
      description: "Never answers.",
      schema: z.object({}),
    });
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "hang", args: {}, id: "c1" }]),
        reply("moving on", { input: 10, output: 5 }),
      ],
    });
    const middleware = agentSREMiddleware(sre, { agentId: "a", toolTimeoutMs: 1500, toolErrors: "continue" });
    const agent = createAgent({ model, tools: [hanging], middleware: [middleware] });

    const result = await drive(clock, agent.invoke(ask("hang")));

    const toolMessage = result.messages[2] as ToolMessage;
    expect(sreMetadata(toolMessage)?.code).toBe("TIMEOUT");
    expect(textOf(toolMessage)).toContain("1500 ms");
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("moving on");
  });

  it("times calls out at the run's context's timeouts over the middleware's", async () => {
    const { sre, clock, completed } = engine();
    const hanging = tool(() => new Promise<string>(() => undefined), {
      name: "hang",
      description: "Never answers.",
      schema: z.object({}),
    });
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "hang", args: {}, id: "c1" }]),
        reply("moving on", { input: 10, output: 5 }),
      ],
    });
    const options = {
      agentId: "a",
      toolTimeoutMs: 60_000,
      modelTimeoutMs: 60_000,
      toolErrors: "continue",
    } as const;
    const agent = createAgent({ model, tools: [hanging], middleware: [agentSREMiddleware(sre, options)] });

    const context = { agentSRE: { toolTimeoutMs: 500 } };
    const result = await drive(clock, agent.invoke(ask("hang"), { context }));

    expect(textOf(result.messages[2] as ToolMessage)).toContain("500 ms");
    // (the fake clock is driven in steps: the deadline is seen within one)
    expect(completed.find((event) => event.name === "hang")?.durationMs).toBeLessThan(1000);

    class HangingModel extends ScriptedChatModel {
      override _generate(): Promise<never> {
        return new Promise(() => undefined);
      }
    }
    const hangingModel = new HangingModel({ script: [], model: "hanging-1" });
    const stalled = createAgent({ model: hangingModel, middleware: [agentSREMiddleware(sre, options)] });
    const run = stalled.invoke(ask("hi"), { context: { agentSRE: { modelTimeoutMs: 700 } } });
    const error = await drive(
      clock,
      run.catch((thrown: unknown) => thrown),
    );
    expect(error).toMatchObject({ message: 'Call "hanging-1" timed out after 700 ms' });
    const modelEvent = completed.find((event) => event.name === "hanging-1");
    expect(modelEvent?.ok).toBe(false);
    expect(modelEvent?.durationMs).toBeGreaterThanOrEqual(700);
    expect(modelEvent?.durationMs).toBeLessThan(1000);
  });

  it("delivers prompt-injection payloads in tool results", async () => {
    const { sre } = engine();
    const experiment = new ChaosExperiment({
      name: "poisoned-results",
      faults: [promptInjection("tool:add", { technique: "tool-hijack", toolName: "shell_exec" })],
    });
    sre.startExperiment(experiment);
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    const toolMessage = result.messages[2] as ToolMessage;
    expect(ToolMessage.isInstance(toolMessage)).toBe(true);
    expect(textOf(toolMessage)).toMatch(/^3\n\n/);
    expect(textOf(toolMessage)).toContain(CHAOS_CANARY);
    expect(textOf(toolMessage)).toContain("shell_exec");
    // The model read the poisoned result.
    const sent = model.seen[1]?.messages ?? [];
    expect(textOf(sent.at(-1) as ToolMessage)).toContain(CHAOS_CANARY);
  });

  it("keeps human-in-the-loop interrupts working", async () => {
    const { sre } = engine();
    const { add, calls } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      checkpointer: new MemorySaver(),
      middleware: [
        agentSREMiddleware(sre, { agentId: "a" }),
        humanInTheLoopMiddleware({ interruptOn: { add: true } }),
      ],
    });

    const paused = await agent.invoke(ask("1+2?"), { configurable: { thread_id: "hitl" } });

    expect((paused as { __interrupt__?: unknown[] }).__interrupt__).toHaveLength(1);
    expect(calls).toHaveLength(0);
  });
});

describe("agentSREMiddleware: context and concurrency", () => {
  it("serves many agents from one instance and keeps concurrent runs separate", async () => {
    const { sre, completed } = engine();
    const middleware = agentSREMiddleware(sre);
    const script = (output: number) => [
      reply("", { input: 100, output }, [addCall(output, 1, `c${output}`)]),
      reply("done", { input: 100, output }),
    ];
    const billing = createAgent({
      model: new ScriptedChatModel({ script: script(10) }),
      tools: [addTool().add],
      middleware: [middleware],
    });
    const support = createAgent({
      model: new ScriptedChatModel({ script: script(30) }),
      tools: [addTool().add],
      middleware: [middleware],
    });

    await Promise.all([
      billing.invoke(ask("bill"), { context: { agentSRE: { agentId: "billing" } } }),
      support.invoke(ask("help"), { context: { agentSRE: { agentId: "support", taskId: "ticket-42" } } }),
    ]);

    expect(sre.budget.agentStatus("billing").spentTodayUsd).toBeCloseTo(
      2 * priceOf("scripted-1", 100, 10),
      12,
    );
    expect(sre.budget.agentStatus("support").spentTodayUsd).toBeCloseTo(
      2 * priceOf("scripted-1", 100, 30),
      12,
    );
    const supportCalls = completed.filter((event) => event.agentId === "support");
    expect(supportCalls).toHaveLength(3);
    expect(new Set(supportCalls.map((event) => event.taskId))).toEqual(new Set(["ticket-42"]));
    expect(completed.filter((event) => event.agentId === "billing")).toHaveLength(3);
  });

  it("binds its own agent once: its calls carry the ref, a context's other agent none", async () => {
    const { sre } = engine();
    const seen: Array<[string, string, AgentRef | undefined]> = [];
    sre.use({ start: (call) => seen.push([call.kind, call.agentId, call.agentRef]) });
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 2 }, [addCall(1, 2, "c1")]),
        reply("3", { input: 10, output: 2 }),
        reply("other", { input: 10, output: 2 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [addTool().add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    await agent.invoke(ask("1+2?"));
    await agent.invoke(ask("hi"), { context: { agentSRE: { agentId: "b" } } });

    const ref = seen[0]?.[2];
    expect(ref?.agentId).toBe("a");
    // Bound once: the model and tool calls of the agent carry the same ref; the context's agent is looked up by id.
    expect(seen).toEqual([
      ["model", "a", ref],
      ["tool", "a", ref],
      ["model", "a", ref],
      ["model", "b", undefined],
    ]);
    expect(sre.status().agents.a?.calls).toBe(3);
    expect(sre.status().agents.b?.calls).toBe(1);
  });

  it("takes per-invocation refusal modes from the context", async () => {
    const { sre } = engine();
    sre.quarantine("a", "incident");
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });

    const ended = await agent.invoke(ask("hello"));
    expect(sreMetadata(ended.messages.at(-1) as AIMessage)?.code).toBe("AGENT_QUARANTINED");
    const error = await agent
      .invoke(ask("hello"), { context: { agentSRE: { onViolation: "error" } } })
      .catch((caught: unknown) => caught);
    expect(refusalFrom(error)?.code).toBe("AGENT_QUARANTINED");
  });

  it("requires an agent id", async () => {
    const { sre } = engine();
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre)] });
    await expect(agent.invoke(ask("hello"))).rejects.toThrow(/agentId/);
  });

  it("validates its options", () => {
    const { sre } = engine();
    expect(() => agentSREMiddleware(sre, { onViolation: "ignore" as never })).toThrow(/onViolation/);
    expect(() => agentSREMiddleware(sre, { onViolation: { tool: { NOPE: "end" } as never } })).toThrow(
      /NOPE/,
    );
    expect(() => agentSREMiddleware(sre, { usageStateKey: "messages" })).toThrow(/usageStateKey/);
    expect(() => agentSREMiddleware(sre, { minOutputTokens: -1 })).toThrow(/minOutputTokens/);
    expect(() => agentSREMiddleware(sre, { defaultMaxOutputTokens: 1.5 })).toThrow(/defaultMaxOutputTokens/);
  });

  it("names the path and the bad value of every wrong refusal mode", () => {
    const { sre } = engine();
    const messageOf = (options: Record<string, unknown>): string => {
      try {
        agentSREMiddleware(sre, options as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
      throw new Error("expected a ConfigError");
    };
    // "continue" answers a tool call; a model call cannot be answered for the model.
    expect(messageOf({ onViolation: { model: "continue" } })).toMatch(/onViolation\.model: "continue"/);
    expect(messageOf({ onViolation: { model: { CIRCUIT_OPEN: "continue" } } })).toMatch(
      /onViolation\.model\.CIRCUIT_OPEN: "continue"/,
    );
    expect(messageOf({ onViolation: "continue" })).toMatch(/use \{ tool: "continue" \}/);
    // The old name is refused with its new one.
    expect(messageOf({ onViolation: { tool: "tool-message" } })).toMatch(/renamed "continue"/);
    expect(messageOf({ onViolation: { tool: { default: "skip" } } })).toMatch(
      /onViolation\.tool\.default: "skip"/,
    );
    expect(messageOf({ onViolation: { tools: "end" } })).toMatch(/onViolation\.tools/);
    expect(messageOf({ toolErrors: "ignore" })).toMatch(/toolErrors: "ignore"/);
    expect(messageOf({ onViolaton: "end" })).toMatch(/options\.onViolaton/);
    // Valid: the same names for both kinds, "continue" for tools.
    expect(() =>
      agentSREMiddleware(sre, {
        onViolation: { model: "end", tool: { default: "continue", AGENT_KILLED: "error" } },
      }),
    ).not.toThrow();
  });

  it("checks the per-invocation context, naming the path", async () => {
    const { sre } = engine();
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [], middleware: [agentSREMiddleware(sre, { agentId: "a" })] });
    await expect(
      agent.invoke(ask("hello"), { context: { agentSRE: { onViolation: { model: "continue" } } } } as never),
    ).rejects.toThrow(/context\.agentSRE\.onViolation\.model: "continue"/);
    await expect(
      agent.invoke(ask("hello"), { context: { agentSRE: { agentID: "b" } } } as never),
    ).rejects.toThrow(/context\.agentSRE\.agentID/);
    expect(model.calls).toBe(0);
  });
});

describe("agentSREMiddleware: streaming", () => {
  const script = () => [
    reply("", { input: 100, output: 20 }, [addCall(1, 2, "c1")]),
    reply("The sum is 3.", { input: 150, output: 8 }),
  ];

  it("keeps streamMode 'messages' working and records usage once per call", async () => {
    const { sre, completed } = engine();
    const { add } = addTool();
    const model = new ScriptedChatModel({ script: script() });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    let streamedText = "";
    let chunks = 0;
    for await (const [chunk] of await agent.stream(ask("1+2?"), { streamMode: "messages" })) {
      if (chunk.type === "ai" && typeof chunk.content === "string" && chunk.content.length > 0) {
        chunks++;
        streamedText += chunk.content;
      }
    }

    expect(model.seen.every((call) => call.streamed)).toBe(true);
    expect(streamedText).toBe("The sum is 3.");
    expect(chunks).toBe("The sum is 3.".length);
    const models = completed.filter((event) => event.kind === "model");
    expect(models.map((event) => [event.inputTokens, event.outputTokens])).toEqual([
      [100, 20],
      [150, 8],
    ]);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(priceOf("scripted-1", 250, 28), 12);
  });

  it("records usage once under streamEvents too", async () => {
    const { sre, completed } = engine();
    const { add } = addTool();
    const model = new ScriptedChatModel({ script: script() });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    let streamEvents = 0;
    let ends = 0;
    for await (const event of agent.streamEvents(ask("1+2?"), { version: "v2" })) {
      if (event.event === "on_chat_model_stream") streamEvents++;
      if (event.event === "on_chat_model_end") ends++;
    }

    expect(streamEvents).toBeGreaterThan(10);
    expect(ends).toBe(2);
    expect(completed.filter((event) => event.kind === "model")).toHaveLength(2);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(priceOf("scripted-1", 250, 28), 12);
  });
});

describe("agentSREMiddleware: output cap clamping", () => {
  class PrivateFieldsModel extends ScriptedChatModel {
    #secret = "x";
    override async _generate(messages: Parameters<ScriptedChatModel["_generate"]>[0]) {
      if (this.#secret !== "x") throw new Error("unreachable");
      return super._generate(messages);
    }
  }

  it("falls back to the unclamped model when the model class cannot run as a view", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.01, perAgentDailyLimitUsd: 10 } });
    const model = new PrivateFieldsModel({
      maxTokens: 4000,
      script: [reply("ok", { input: 10, output: 2 }), reply("ok again", { input: 10, output: 2 })],
    });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [
        agentSREMiddleware(sre, { agentId: "a", estimate: () => ({ inputTokens: 0, outputTokens: 100 }) }),
      ],
    });

    const first = await agent.invoke(ask("hi"));
    const second = await agent.invoke(ask("hi"));

    expect(textOf(first.messages.at(-1) as AIMessage)).toBe("ok");
    expect(textOf(second.messages.at(-1) as AIMessage)).toBe("ok again");
    expect(model.seen.map((call) => call.maxTokens)).toEqual([4000, 4000]);
  });
});
