import { describe, expect, it, vi } from "vitest";
import { ChaosExperiment, errorInjection } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import { RefusalError } from "../errors.js";
import { AgentSRE } from "./agent-sre.js";
import type { CallObserver, CallOutcome } from "./observer.js";
import type { GuardCall } from "./types.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

interface Seen {
  starts: Array<{ name: string; at: number; faults: string[] }>;
  ends: Array<{ state: unknown; name: string; outcome: CallOutcome }>;
  refusals: Array<{ name: string; code: string }>;
}

function recorder(tag: string): { observer: CallObserver<string>; seen: Seen } {
  const seen: Seen = { starts: [], ends: [], refusals: [] };
  let n = 0;
  const observer: CallObserver<string> = {
    start(call, startedAtMs, chaos) {
      seen.starts.push({
        name: call.name,
        at: startedAtMs,
        faults: chaos?.faults.map((f) => f.type) ?? [],
      });
      return `${tag}-${n++}`;
    },
    end(state, call, outcome) {
      seen.ends.push({ state, name: call.name, outcome });
    },
    refused(call, error) {
      seen.refusals.push({ name: call.name, code: error.code });
    },
  };
  return { observer, seen };
}

const model = (extra: Partial<GuardCall<{ n: number }>> = {}): GuardCall<{ n: number }> => ({
  kind: "model",
  agentId: "a",
  name: "gpt-4o",
  provider: "openai",
  usage: () => ({ inputTokens: 1_000, outputTokens: 500, model: "gpt-4o-2024-08-06" }),
  ...extra,
});

describe("call observers (the telemetry seam)", () => {
  it("sees start, the settled outcome with cost and usage, and refusals", async () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock, tools: { deny: ["rm"] } });
    const { observer, seen } = recorder("x");
    sre.use(observer);
    await sre.guard(model(), async () => {
      clock.advance(250);
      return { n: 1 };
    });
    expect(seen.starts).toEqual([{ name: "gpt-4o", at: START, faults: [] }]);
    expect(seen.ends).toHaveLength(1);
    const end = seen.ends[0];
    expect(end?.state).toBe("x-0");
    expect(end?.outcome).toMatchObject({
      ok: true,
      cancelled: false,
      failure: false,
      durationMs: 250,
      usage: { inputTokens: 1_000, outputTokens: 500, model: "gpt-4o-2024-08-06" },
      breakerState: "CLOSED",
    });
    expect(end?.outcome.costUsd).toBeCloseTo(0.0075, 10);

    await expect(sre.guard({ kind: "tool", agentId: "a", name: "rm" }, () => 1)).rejects.toThrow(
      RefusalError,
    );
    expect(seen.refusals).toEqual([{ name: "rm", code: "TOOL_NOT_ALLOWED" }]);
    expect(seen.starts).toHaveLength(1); // a refused call never started
  });

  it("reports failures, cancelled streams and injected chaos faults", async () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock, chaosSeed: 7 });
    const { observer, seen } = recorder("y");
    sre.use(observer);
    await expect(
      sre.guard(model(), () => {
        throw new Error("provider down");
      }),
    ).rejects.toThrow("provider down");
    expect(seen.ends[0]?.outcome).toMatchObject({ ok: false, failure: true, cancelled: false });
    expect(seen.ends[0]?.outcome.error).toBeInstanceOf(Error);
    expect(String(seen.ends[0]?.outcome.error)).toContain("provider down");

    const stream = await sre.begin(model());
    stream.reportUsage({ inputTokens: 10, outputTokens: 3 });
    stream.cancel();
    expect(seen.ends[1]?.outcome).toMatchObject({
      ok: false,
      cancelled: true,
      failure: false,
      usage: { inputTokens: 10, outputTokens: 3 },
    });

    sre.startExperiment(
      new ChaosExperiment({ name: "errors", faults: [errorInjection("tool:*", { rate: 1 })] }),
    );
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "search" }, () => 1)).rejects.toThrow();
    expect(seen.starts.at(-1)?.faults).toEqual(["error"]);
    expect(seen.ends.at(-1)?.outcome).toMatchObject({ ok: false, failure: true });
  });

  it("calls several observers, removes them, and survives one that throws", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START) });
    const first = recorder("1");
    const second = recorder("2");
    const offFirst = sre.use(first.observer);
    const offSecond = sre.use(second.observer);
    await sre.guard(model(), () => ({ n: 1 }));
    expect(first.seen.ends[0]?.state).toBe("1-0");
    expect(second.seen.ends[0]?.state).toBe("2-0");
    offFirst();
    await sre.guard(model(), () => ({ n: 2 }));
    expect(first.seen.ends).toHaveLength(1);
    expect(second.seen.ends).toHaveLength(2);
    offSecond();

    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    sre.use({
      start: () => {
        throw new Error("broken observer");
      },
      end: () => {
        throw new Error("broken observer");
      },
      refused: () => {},
    });
    await expect(sre.guard(model(), () => ({ n: 3 }))).resolves.toEqual({ n: 3 });
    expect(errors).toHaveBeenCalled();
    errors.mockRestore();
  });

  it("an observer whose enabled() says no sees nothing of a call; its neighbours in a set still do", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START), tools: { deny: ["rm"] } });
    let on = false;
    const gated = recorder("gated");
    gated.observer.enabled = () => on;
    const always = recorder("always");
    const off = sre.use(gated.observer);
    await sre.guard(model(), () => ({ n: 1 }));
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "rm" }, () => 1)).rejects.toThrow();
    expect(gated.seen).toEqual({ starts: [], ends: [], refusals: [] });

    sre.use(always.observer); // now a set of two
    await sre.guard(model(), () => ({ n: 2 }));
    expect(gated.seen.starts).toHaveLength(0);
    expect(always.seen.ends.map((end) => end.state)).toEqual(["always-0"]);
    on = true; // e.g. a tracing SDK registered: from the next call on
    await sre.guard(model(), () => ({ n: 3 }));
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "rm" }, () => 1)).rejects.toThrow();
    expect(gated.seen.ends.map((end) => end.state)).toEqual(["gated-0"]);
    expect(gated.seen.refusals).toEqual([{ name: "rm", code: "TOOL_NOT_ALLOWED" }]);
    expect(always.seen.ends).toHaveLength(2);
    off();
  });

  it("record() reports an observation-only call as a start and an end", () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock });
    const { observer, seen } = recorder("r");
    sre.use(observer);
    sre.record(
      { kind: "model", agentId: "a", name: "gpt-4o", provider: "openai" },
      { ok: true, durationMs: 40, usage: { inputTokens: 100, outputTokens: 10 } },
    );
    expect(seen.starts).toEqual([{ name: "gpt-4o", at: START - 40, faults: [] }]);
    expect(seen.ends[0]?.outcome).toMatchObject({ ok: true, durationMs: 40 });
  });
});
