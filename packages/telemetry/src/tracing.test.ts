import { AgentSRE, ChaosExperiment, errorInjection, ManualClock, RefusalError } from "@agent-sre/core";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { instrument } from "./index.js";
import { type OtelHarness, otelHarness } from "./test-utils/otel.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
let otel: OtelHarness;

beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});
afterEach(() => {
  otel.spans.reset();
});

const modelCall = {
  kind: "model" as const,
  agentId: "support",
  taskId: "t-1",
  name: "gpt-4o",
  provider: "openai",
  usage: () => ({ inputTokens: 1_000, outputTokens: 500, model: "gpt-4o-2024-08-06" }),
};

describe("spans (OpenTelemetry GenAI conventions)", () => {
  it("a model call is a CLIENT span `chat <model>` under the caller's active span", async () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock });
    instrument(sre, { tracer: otel.tracer, meter: false });
    await otel.tracer.startActiveSpan("request", async (parent) => {
      await sre.guard(modelCall, async () => {
        await Promise.resolve();
        clock.advance(120);
        return "ok";
      });
      parent.end();
    });
    const spans = await otel.finished();
    const chat = spans.find((s) => s.name === "chat gpt-4o");
    const request = spans.find((s) => s.name === "request");
    expect(chat).toBeDefined();
    expect(chat?.kind).toBe(SpanKind.CLIENT);
    expect(chat?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(chat?.spanContext().traceId).toBe(request?.spanContext().traceId);
    expect(chat?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.response.model": "gpt-4o-2024-08-06",
      "gen_ai.usage.input_tokens": 1_000,
      "gen_ai.usage.output_tokens": 500,
      "gen_ai.agent.id": "support",
      "agent_sre.agent.id": "support",
      "agent_sre.task.id": "t-1",
      "agent_sre.decision": "allowed",
      "agent_sre.outcome": "ok",
      "agent_sre.breaker.state": "CLOSED",
    });
    expect(chat?.attributes["agent_sre.cost.usd"]).toBeCloseTo(0.0075, 10);
    expect(chat?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("a refused call is an error span with the refusal code; a failed tool carries the injected fault", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START), tools: { deny: ["shell.*"] }, chaosSeed: 1 });
    instrument(sre, { tracer: otel.tracer, meter: false });
    await expect(
      sre.guard({ kind: "tool", agentId: "ops", name: "shell.exec" }, () => "never"),
    ).rejects.toBeInstanceOf(RefusalError);
    sre.startExperiment(
      new ChaosExperiment({ name: "flaky-search", faults: [errorInjection("tool:search", { rate: 1 })] }),
    );
    await expect(
      sre.guard({ kind: "tool", agentId: "ops", name: "search" }, () => "never"),
    ).rejects.toThrow();

    const [refused, failed] = await otel.finished();
    expect(refused?.name).toBe("execute_tool shell.exec");
    expect(refused?.kind).toBe(SpanKind.INTERNAL);
    expect(refused?.status.code).toBe(SpanStatusCode.ERROR);
    expect(refused?.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "shell.exec",
      "agent_sre.decision": "refused",
      "agent_sre.refusal.code": "TOOL_NOT_ALLOWED",
      "error.type": "TOOL_NOT_ALLOWED",
    });
    expect(failed?.name).toBe("execute_tool search");
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes).toMatchObject({
      "agent_sre.decision": "allowed",
      "agent_sre.outcome": "error",
      "agent_sre.chaos.experiment": "flaky-search",
      "agent_sre.chaos.fault": ["error"],
      "error.type": "CHAOS_INJECTED",
    });
  });

  it("an open breaker shows on the span of the call that tripped it and refuses the next", async () => {
    const sre = new AgentSRE({
      clock: new ManualClock(START),
      breakers: { defaults: { failureThreshold: 2 } },
    });
    instrument(sre, { tracer: otel.tracer, meter: false });
    const failing = () => Promise.reject(new TypeError("fetch failed"));
    for (let i = 0; i < 2; i++) await expect(sre.guard(modelCall, failing)).rejects.toThrow("fetch failed");
    await expect(sre.guard(modelCall, failing)).rejects.toMatchObject({ code: "CIRCUIT_OPEN" });
    const spans = await otel.finished();
    expect(
      spans.map((s) => s.attributes["agent_sre.breaker.state"] ?? s.attributes["agent_sre.refusal.code"]),
    ).toEqual(["CLOSED", "OPEN", "CIRCUIT_OPEN"]);
    expect(spans[0]?.attributes["error.type"]).toBe("TypeError");
  });

  it("without an SDK the spans are no-ops and calls run as before", async () => {
    // The global provider is the API's no-op here: no SDK was registered.
    const sre = new AgentSRE({ clock: new ManualClock(START) });
    const telemetry = instrument(sre);
    expect(trace.getTracer("x").startSpan("y").isRecording()).toBe(false);
    await expect(sre.guard(modelCall, () => "done")).resolves.toBe("done");
    expect(await otel.finished()).toHaveLength(0);
    // Both observers know they are disabled (one check per call); the metrics one is not even registered.
    expect(telemetry.spans?.disabled).toBe(true);
    expect(telemetry.metrics?.disabled).toBe(true);
    telemetry.dispose();
  });

  it("an SDK registered after instrument() is used from its next call on", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START), tools: { deny: ["shell.*"] } });
    const telemetry = instrument(sre);
    await sre.guard(modelCall, () => "before");
    expect(trace.setGlobalTracerProvider(otel.tracerProvider)).toBe(true);
    try {
      expect(telemetry.spans?.disabled).toBe(false);
      await sre.guard({ ...modelCall, taskId: "t-2" }, () => "after");
      await expect(
        sre.guard({ kind: "tool", agentId: "ops", name: "shell.exec" }, () => "never"),
      ).rejects.toBeInstanceOf(RefusalError);
      const spans = await otel.finished();
      expect(spans.map((span) => [span.name, span.attributes["agent_sre.decision"]])).toEqual([
        ["chat gpt-4o", "allowed"],
        ["execute_tool shell.exec", "refused"],
      ]);
    } finally {
      trace.disable();
      telemetry.dispose();
    }
  });
});
