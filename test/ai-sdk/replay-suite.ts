// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of the AI SDK whose types differ
/**
 * Record and replay through the real AI SDK (ai@6 here, ai@7 on the Node 22 leg): a run recorded with the
 * middleware's and guardTools' `record` option replays with `replayModel` / `replayTools` to the identical
 * outcome with zero live model calls; a changed prompt or tool result is reported at the right step; a
 * what-if deny rule reports the refusal at the right call. Only the LLM is fake (`ai/test`'s mock).
 */

import { agentSREMiddleware, guardTools, replayModel, replayTools } from "@agent-sre/ai-sdk";
import {
  AgentSRE,
  parseTrace,
  Recorder,
  ReplayDivergenceError,
  ReplaySession,
  type Trace,
} from "@agent-sre/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type AiSdkUnderTest, streamOf, usage } from "./suite.js";

const MODEL = "gpt-4.1";
const PROVIDER = "openai.chat";
const AGENT = "researcher";
const TASK = "weather-1";
const stop = { unified: "stop", raw: "stop" };
const toolCalls = { unified: "tool-calls", raw: "tool_calls" };

export function aiSdkReplaySuite(sdk: AiSdkUnderTest): void {
  const { generateText, streamText, wrapLanguageModel, tool, stepCountIs, MockLanguageModel } = sdk;

  const weather = (temperature = 21, seen: string[] = []) => ({
    weather: tool({
      description: "Weather in a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }: { city: string }) => {
        seen.push(city);
        return { city, temperature };
      },
    }),
  });

  const liveModel = () => {
    let n = 0;
    return new MockLanguageModel({
      provider: PROVIDER,
      modelId: MODEL,
      doGenerate: async () =>
        ++n === 1
          ? {
              content: [
                { type: "tool-call", toolCallId: "call-1", toolName: "weather", input: '{"city":"Paris"}' },
              ],
              finishReason: toolCalls,
              usage: usage(20, 5),
              warnings: [],
            }
          : {
              content: [{ type: "text", text: "It is 21°C in Paris." }],
              finishReason: stop,
              usage: usage(30, 8),
              warnings: [],
            },
      doStream: async () => ({
        stream: streamOf(
          ++n === 1
            ? [
                { type: "stream-start", warnings: [] },
                { type: "response-metadata", id: "resp-1", modelId: MODEL, timestamp: new Date(0) },
                { type: "tool-input-start", id: "call-1", toolName: "weather" },
                { type: "tool-input-delta", id: "call-1", delta: '{"city":"Paris"}' },
                { type: "tool-input-end", id: "call-1" },
                { type: "tool-call", toolCallId: "call-1", toolName: "weather", input: '{"city":"Paris"}' },
                { type: "finish", finishReason: toolCalls, usage: usage(20, 5) },
              ]
            : [
                { type: "stream-start", warnings: [] },
                { type: "text-start", id: "t1" },
                { type: "text-delta", id: "t1", delta: "It is " },
                { type: "text-delta", id: "t1", delta: "21°C." },
                { type: "text-end", id: "t1" },
                { type: "finish", finishReason: stop, usage: usage(30, 8) },
              ],
        ),
      }),
    });
  };

  const model = (sre: AgentSRE, inner: unknown, record?: Recorder) =>
    wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: AGENT, taskId: TASK, record }),
    });
  const tools = (sre: AgentSRE, set: Record<string, unknown>, record?: Recorder) =>
    guardTools(set, sre, { agentId: AGENT, taskId: TASK, record });

  async function recordGenerate(): Promise<{ trace: Trace; text: string; text2: string }> {
    const sre = new AgentSRE();
    const recorder = new Recorder({ source: "ai-sdk" });
    const result = await generateText({
      model: model(sre, liveModel(), recorder),
      tools: tools(sre, weather(), recorder),
      stopWhen: stepCountIs(5),
      prompt: "Weather in Paris?",
      headers: { Authorization: "Bearer sk-proj-0123456789abcdefghijklmnop" },
    });
    const run = recorder.endRun(AGENT, TASK);
    expect(run).toBeDefined();
    return { trace: parseTrace(run?.text ?? ""), text: result.text, text2: run?.text ?? "" };
  }

  /** The replay: the application's code with the stand-ins, on an engine built on the replay clock. */
  function replaySetup(
    trace: Trace,
    options: ConstructorParameters<typeof ReplaySession>[1] = {},
    engine = {},
  ) {
    const session = new ReplaySession(trace, options);
    const sre = new AgentSRE({ clock: session.clock, ...engine });
    session.attach(sre);
    return { session, sre, model: model(sre, replayModel(session)) };
  }

  describe(`${sdk.label}: record and replay`, () => {
    it("generateText: a recorded tool loop replays to the identical outcome with zero live model calls", async () => {
      const { trace, text, text2 } = await recordGenerate();
      expect(trace.calls.map((c) => `${c.seq}:${c.kind}:${c.name}:${c.decision.outcome}`)).toEqual([
        `1:model:${MODEL}:allowed`,
        "2:tool:weather:allowed",
        `3:model:${MODEL}:allowed`,
      ]);
      expect(trace.calls[0]).toMatchObject({
        api: "ai-sdk",
        request: { model: MODEL, prompt: [{ role: "user" }], tools: [{ name: "weather" }] },
        response: {
          content: [{ type: "tool-call", toolName: "weather" }],
          usage: { inputTokens: { total: 20 } },
        },
        usage: { inputTokens: 20, outputTokens: 5 },
      });
      expect(trace.calls[1]).toMatchObject({
        request: { city: "Paris" },
        response: { city: "Paris", temperature: 21 },
      });
      // The bearer token the app sent as a header never reaches the trace.
      expect(text2).not.toContain("sk-proj-0123456789");
      expect(text2).toContain(`"authorization":"[REDACTED]"`);

      const { session, sre, model: replayed } = replaySetup(trace);
      const live = liveModel();
      const seen: string[] = [];
      const result = await generateText({
        model: replayed,
        tools: tools(sre, replayTools(weather(21, seen), session)),
        stopWhen: stepCountIs(5),
        prompt: "Weather in Paris?",
        headers: { Authorization: "Bearer sk-proj-0123456789abcdefghijklmnop" },
      });
      expect(result.text).toBe(text);
      expect(result.steps).toHaveLength(2);
      expect(live.doGenerateCalls).toHaveLength(0);
      expect(seen).toEqual([]); // the tool was answered from the trace too
      const report = session.report();
      expect(report).toMatchObject({ ok: true, answered: 3, liveCalls: 0, notReached: 0 });
      // The replay's engine priced the same usage: same spend.
      expect(sre.budget.agentStatus(AGENT).spentTodayUsd).toBeCloseTo(trace.end?.costUsd ?? Number.NaN, 12);
    });

    it("streamText: the recorded stream parts are replayed (text, tool call, usage)", async () => {
      const sre = new AgentSRE();
      const recorder = new Recorder();
      const recorded = streamText({
        model: model(sre, liveModel(), recorder),
        tools: tools(sre, weather(), recorder),
        stopWhen: stepCountIs(5),
        prompt: "Weather in Paris?",
      });
      const recordedTypes: string[] = [];
      for await (const part of recorded.fullStream) recordedTypes.push(part.type);
      const trace = parseTrace(recorder.endRun(AGENT, TASK)?.text ?? "");
      const parts =
        (trace.calls[2]?.response as { stream?: Array<{ type: string }> } | undefined)?.stream ?? [];
      expect(parts.map((p) => p.type)).toEqual([
        "stream-start",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "finish",
      ]);

      const { session, sre: replaySre, model: replayed } = replaySetup(trace);
      const result = streamText({
        model: replayed,
        tools: tools(replaySre, replayTools(weather(), session)),
        stopWhen: stepCountIs(5),
        prompt: "Weather in Paris?",
      });
      const types: string[] = [];
      for await (const part of result.fullStream) types.push(part.type);
      expect(types).toEqual(recordedTypes);
      expect(await result.text).toBe("It is 21°C.");
      expect(session.report().ok).toBe(true);
    });

    it("a changed prompt is reported at the first call, with the diff of that step", async () => {
      const { trace } = await recordGenerate();
      const { session, sre, model: replayed } = replaySetup(trace);
      const failure = await generateText({
        model: replayed,
        tools: tools(sre, replayTools(weather(), session)),
        stopWhen: stepCountIs(5),
        prompt: "Weather in Lyon?",
      }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ReplayDivergenceError);
      expect(session.divergence).toMatchObject({ seq: 1, kind: "model", reason: "request" });
      expect(session.divergence?.message).toMatch(
        /request\.prompt\[0\]\.content\[0\]\.text: "Weather in Paris\?" → "Weather in Lyon\?"/,
      );
    });

    it("a tool run live returns another result: the next model call is reported, showing the changed tool output", async () => {
      const { trace } = await recordGenerate();
      const { session, sre, model: replayed } = replaySetup(trace, { liveTools: ["weather"] });
      const seen: string[] = [];
      await expect(
        generateText({
          model: replayed,
          tools: tools(sre, replayTools(weather(22, seen), session)),
          stopWhen: stepCountIs(5),
          prompt: "Weather in Paris?",
        }),
      ).rejects.toBeInstanceOf(ReplayDivergenceError);
      expect(seen).toEqual(["Paris"]); // the fixed tool really ran
      expect(session.divergence).toMatchObject({ seq: 3, kind: "model", reason: "request" });
      expect(
        session.divergence?.differences.some(
          (d) => d.path.endsWith(".temperature") && d.expected === 21 && d.actual === 22,
        ),
      ).toBe(true);
      expect(session.report().liveCalls).toBe(1);
    });

    it("what-if: replayed with a deny rule, the refusal is reported at the right call", async () => {
      const { trace } = await recordGenerate();
      const {
        session,
        sre,
        model: replayed,
      } = replaySetup(trace, { onDivergence: "report" }, { tools: { deny: ["weather"] } });
      const result = await generateText({
        model: replayed,
        tools: tools(sre, replayTools(weather(), session)),
        stopWhen: stepCountIs(5),
        prompt: "Weather in Paris?",
      });
      const report = session.report();
      expect(report.whatIf).toEqual([
        expect.objectContaining({
          seq: 2,
          kind: "tool",
          name: "weather",
          change: "refused",
          replayed: expect.objectContaining({ code: "TOOL_NOT_ALLOWED" }),
        }),
      ]);
      // The model then saw the refusal instead of the weather: a consequence, reported as such.
      expect(report.divergence).toMatchObject({ seq: 3, reason: "request", afterWhatIf: true });
      expect(result.text).toBe("It is 21°C in Paris."); // answered as recorded (report mode)
    });
  });
}
