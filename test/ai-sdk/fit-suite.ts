// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of the AI SDK whose types differ
/**
 * Framework fit of the AI SDK adapter, through the real `generateText` / `streamText` of each major (ai@6 on
 * Node 20, ai@7 on Node 22): per-call identity, streaming tools recognised by behaviour and timed by the
 * tool, errors the SDK's way (`APICallError`, `refusalFrom`), and ending a run on a refusal.
 */
import {
  agentSRECallOptions,
  agentSREMiddleware,
  guardTools,
  REFUSED_FINISH_REASON,
  refusalFrom,
} from "@agent-sre/ai-sdk";
import { AgentSRE, ChaosExperiment, errorInjection, ManualClock, type RefusalError } from "@agent-sre/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type AiSdkUnderTest, streamOf, usage } from "./suite.js";

export interface AiSdkFitUnderTest extends AiSdkUnderTest {
  /** The SDK's `APICallError` class. */
  APICallError: any;
  /**
   * Whether the adapter loads this same `ai` (then `instanceof APICallError` holds). In this workspace the
   * adapter's own `ai` is ai@6, so on the ai@7 leg only `APICallError.isInstance` can hold.
   */
  adapterSharesAi: boolean;
}

const MODEL = "gpt-4.1";
const PROVIDER = "openai.chat";
const stop = { unified: "stop", raw: "stop" };
const toolCalls = { unified: "tool-calls", raw: "tool_calls" };

function toolCallStream(toolName: string, input: string) {
  return [
    { type: "stream-start", warnings: [] },
    { type: "tool-call", toolCallId: "call-1", toolName, input },
    { type: "finish", finishReason: toolCalls, usage: usage(12, 4) },
  ];
}

function textStream(text: string) {
  return [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t1" },
    { type: "text-delta", id: "t1", delta: text },
    { type: "text-end", id: "t1" },
    { type: "finish", finishReason: stop, usage: usage(20, 2) },
  ];
}

type Forecast = { city: string; status: string };

async function* forecastValues(city: string): AsyncGenerator<Forecast> {
  yield { city, status: "loading" };
  yield { city, status: "partial" };
  yield { city, status: "done" };
}

/** An async iterable the way down-levelled code (or a hand-written source) builds one: no generator at all. */
function handWrittenIterable(city: string): AsyncIterable<Forecast> {
  const statuses = ["loading", "partial", "done"];
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: () =>
          Promise.resolve(
            i < statuses.length
              ? { done: false as const, value: { city, status: statuses[i++] as string } }
              : { done: true as const, value: undefined },
          ),
      };
    },
  };
}

export function aiSdkFitSuite(sdk: AiSdkFitUnderTest): void {
  const { generateText, streamText, wrapLanguageModel, tool, stepCountIs, MockLanguageModel, APICallError } =
    sdk;
  const mock = (options: { doGenerate?: any; doStream?: any }) =>
    new MockLanguageModel({ provider: PROVIDER, modelId: MODEL, ...options });
  const wrap = (sre: AgentSRE, inner: any, options: Record<string, unknown> = {}) =>
    wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: "default", ...options }),
    });

  describe(`${sdk.label}: framework fit`, () => {
    it("per-call identity: one wrapped model and one guarded tool set serve two agents; each request's model and tool calls are charged to its agent", async () => {
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
      const calls: Array<{ agentId: string; kind: string; taskId?: string }> = [];
      sre.on("call.completed", (e) => calls.push({ agentId: e.agentId, kind: e.kind, taskId: e.taskId }));
      const seen = new Map<string, number>();
      const inner = mock({
        doGenerate: async (options: any) => {
          const who = options.providerOptions?.agentSre?.agentId as string;
          const step = (seen.get(who) ?? 0) + 1;
          seen.set(who, step);
          await new Promise((resolve) => setImmediate(resolve));
          return step === 1
            ? {
                content: [
                  { type: "tool-call", toolCallId: `c-${who}`, toolName: "lookup", input: `{"q":"${who}"}` },
                ],
                finishReason: toolCalls,
                usage: usage(10, 2),
                warnings: [],
              }
            : {
                content: [{ type: "text", text: `done ${who}` }],
                finishReason: stop,
                usage: usage(10, 2),
                warnings: [],
              };
        },
      });
      const model = wrap(sre, inner);
      // No agentId on the tool set: each call says whose it is.
      const tools = guardTools(
        {
          lookup: tool({
            inputSchema: z.object({ q: z.string() }),
            execute: async ({ q }: { q: string }) => `found ${q}`,
          }),
        },
        sre,
        {},
      );
      const run = (agentId: string) =>
        generateText({
          model,
          tools,
          stopWhen: stepCountIs(3),
          prompt: "go",
          ...agentSRECallOptions({ agentId, taskId: `task-${agentId}` }, tools),
        });
      const results = await Promise.all([run("writer"), run("critic")]);
      expect(results.map((r: any) => r.text)).toEqual(["done writer", "done critic"]);
      const by = (agentId: string) =>
        calls
          .filter((c) => c.agentId === agentId)
          .map((c) => `${c.kind}:${c.taskId}`)
          .sort();
      expect(by("writer")).toEqual(["model:task-writer", "model:task-writer", "tool:task-writer"]);
      expect(by("critic")).toEqual(["model:task-critic", "model:task-critic", "tool:task-critic"]);
      expect(by("default")).toEqual([]);
      // The tool saw each request's own input: per-agent loop detection keys on the right agent.
      expect(sre.budget.agentStatus("writer").tokensToday).toBe(24);
    });

    it("a tool call with no identity anywhere is a tool error naming what is missing", async () => {
      const sre = new AgentSRE();
      let n = 0;
      const inner = mock({
        doGenerate: async () =>
          ++n === 1
            ? {
                content: [{ type: "tool-call", toolCallId: "c1", toolName: "lookup", input: '{"q":"x"}' }],
                finishReason: toolCalls,
                usage: usage(1, 1),
                warnings: [],
              }
            : {
                content: [{ type: "text", text: "ok" }],
                finishReason: stop,
                usage: usage(1, 1),
                warnings: [],
              },
      });
      const tools = guardTools(
        { lookup: tool({ inputSchema: z.object({ q: z.string() }), execute: async () => "never" }) },
        sre,
        {},
      );
      const result = await generateText({
        model: wrap(sre, inner),
        tools,
        stopWhen: stepCountIs(3),
        prompt: "go",
      });
      const toolError = result.steps[0].content.find((p: any) => p.type === "tool-error");
      expect(String(toolError.error.message)).toMatch(/agentId/);
    });

    for (const [label, execute] of [
      [
        "an arrow function returning an async generator",
        ({ city }: { city: string }) => forecastValues(city),
      ],
      [
        "a bound async generator function",
        async function* (this: { prefix: string }, { city }: { city: string }) {
          yield* forecastValues(`${this.prefix}${city}`);
        }.bind({ prefix: "" }),
      ],
      [
        "a hand-written async iterable (down-levelled code)",
        ({ city }: { city: string }) => handWrittenIterable(city),
      ],
    ] as const) {
      it(`streaming tools by behaviour: ${label} keeps streaming preliminary results`, async () => {
        const sre = new AgentSRE();
        const calls: Array<{ kind: string; ok: boolean }> = [];
        sre.on("call.completed", (e) => calls.push({ kind: e.kind, ok: e.ok }));
        let n = 0;
        const inner = mock({
          doStream: async () => ({
            stream: streamOf(++n === 1 ? toolCallStream("forecast", '{"city":"Oslo"}') : textStream("Snow.")),
          }),
        });
        const forecast = tool({ inputSchema: z.object({ city: z.string() }), execute });
        const result = streamText({
          model: wrap(sre, inner, { agentId: "researcher" }),
          tools: guardTools({ forecast }, sre, { agentId: "researcher" }),
          stopWhen: stepCountIs(3),
          prompt: "Forecast for Oslo",
        });
        const toolResults: Array<[boolean, string]> = [];
        for await (const part of result.fullStream) {
          if (part.type === "tool-result") toolResults.push([part.preliminary === true, part.output.status]);
        }
        expect(toolResults).toEqual([
          [true, "loading"],
          [true, "partial"],
          [true, "done"],
          [false, "done"],
        ]);
        expect(await result.text).toBe("Snow.");
        expect(calls.filter((c) => c.kind === "tool")).toEqual([{ kind: "tool", ok: true }]);
      });
    }

    it("a streaming tool's timeout measures the tool, not the reader: a slow reader does not time it out", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, timeouts: { toolMs: 1_000 } });
      const calls: Array<{ kind: string; ok: boolean }> = [];
      sre.on("call.completed", (e) => calls.push({ kind: e.kind, ok: e.ok }));
      let n = 0;
      const inner = mock({
        doStream: async () => ({
          stream: streamOf(++n === 1 ? toolCallStream("forecast", '{"city":"Oslo"}') : textStream("Snow.")),
        }),
      });
      const forecast = tool({
        inputSchema: z.object({ city: z.string() }),
        execute: ({ city }: { city: string }) => forecastValues(city),
      });
      const result = streamText({
        model: wrap(sre, inner, { agentId: "researcher" }),
        tools: guardTools({ forecast }, sre, { agentId: "researcher" }),
        stopWhen: stepCountIs(3),
        prompt: "Forecast for Oslo",
      });
      const parts: string[] = [];
      for await (const part of result.fullStream) {
        if (part.type === "tool-result" || part.type === "tool-error") {
          parts.push(`${part.type}${part.preliminary ? ":preliminary" : ""}`);
          // The reader dawdles for 5 s after the first value: the tool itself took no time at all.
          if (parts.length === 1) clock.advance(5_000);
        }
      }
      expect(parts).toEqual([
        "tool-result:preliminary",
        "tool-result:preliminary",
        "tool-result:preliminary",
        "tool-result",
      ]);
      expect(calls.filter((c) => c.kind === "tool")).toEqual([{ kind: "tool", ok: true }]);
    });

    it("injected provider-like failures are the SDK's APICallError; refusalFrom finds the refusal behind a RetryError", async () => {
      const sre = new AgentSRE();
      sre.startExperiment(
        new ChaosExperiment({ name: "503", faults: [errorInjection(`model:${MODEL}`, { status: 503 })] }),
      );
      const inner = mock({
        doGenerate: async () => ({ content: [], finishReason: stop, usage: usage(1, 1), warnings: [] }),
      });
      const once: any = await generateText({
        model: wrap(sre, inner, { retryAfterMs: 0 }),
        prompt: "x",
        maxRetries: 0,
      }).catch((e: unknown) => e);
      expect(APICallError.isInstance(once)).toBe(true);
      if (sdk.adapterSharesAi) expect(once).toBeInstanceOf(APICallError);
      expect(once.statusCode).toBe(503);
      expect(once.isRetryable).toBe(true);
      expect(refusalFrom(once)?.code).toBe("CHAOS_INJECTED");

      const retried: any = await generateText({
        model: wrap(sre, inner, { retryAfterMs: 0 }),
        prompt: "x",
        maxRetries: 2,
      }).catch((e: unknown) => e);
      expect(retried.name).toBe("AI_RetryError");
      expect(refusalFrom(retried)?.code).toBe("CHAOS_INJECTED");
      expect(refusalFrom(new Error("plain"))).toBeUndefined();
    });

    it("endRunOnRefusal: a model call refused mid-run ends the run gracefully with its steps (generateText and streamText)", async () => {
      const makeInner = () => {
        let n = 0;
        const generate = async () => ({
          content: [{ type: "tool-call", toolCallId: `c-${++n}`, toolName: "lookup", input: `{"q":"${n}"}` }],
          finishReason: toolCalls,
          // $0.068 of gpt-4.1: past the task's $0.05 at once.
          usage: usage(30_000, 1_000),
          warnings: [],
        });
        return mock({
          doGenerate: generate,
          doStream: async () => {
            const step = await generate();
            return {
              stream: streamOf([
                { type: "stream-start", warnings: [] },
                ...step.content,
                { type: "finish", finishReason: toolCalls, usage: step.usage },
              ]),
            };
          },
        });
      };
      const lookup = tool({
        inputSchema: z.object({ q: z.string() }),
        execute: async ({ q }: { q: string }) => q,
      });
      for (const mode of ["generate", "stream"] as const) {
        const sre = new AgentSRE({ budget: { perTaskLimitUsd: 0.05 } });
        const ends: string[] = [];
        const model = wrap(sre, makeInner(), {
          agentId: "researcher",
          taskId: "t",
          endRunOnRefusal: ["BUDGET_EXCEEDED"],
          onEndRun: (refusal: RefusalError) => ends.push(refusal.code),
        });
        const options = {
          model,
          tools: guardTools({ lookup }, sre, { agentId: "researcher", taskId: "t" }),
          stopWhen: stepCountIs(5),
          prompt: "go",
        };
        let steps: any[];
        if (mode === "generate") {
          steps = (await generateText(options)).steps;
        } else {
          const result = streamText(options);
          for await (const _ of result.fullStream) {
            // drain
          }
          steps = await result.steps;
        }
        expect(ends).toEqual(["BUDGET_EXCEEDED"]);
        expect(steps).toHaveLength(2);
        // The first step is kept as it was (its tool was refused too: the task is over budget).
        expect(steps[0].content[0]).toMatchObject({ type: "tool-call", toolName: "lookup" });
        expect(steps[1].content).toEqual([]);
        expect(steps[1].finishReason).toBe("other");
        expect(steps[1].providerMetadata?.agentSre?.refusal?.code).toBe("BUDGET_EXCEEDED");
        expect(REFUSED_FINISH_REASON).toBe("agent-sre-refused");
      }
    });
  });
}
