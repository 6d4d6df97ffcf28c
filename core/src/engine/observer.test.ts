import { describe, expect, it, vi } from "vitest";
import { ChaosExperiment, errorInjection } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import { RefusalError } from "../errors.js";
import { AgentSRE } from "./agent-sre.js";
import { type CallObserver, type CallOutcome, ObserverSet } from "./observer.js";
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

  it("calls only the hooks an observer defines, decided at use()", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const clock = new ManualClock(START);
    const sre = new AgentSRE({ clock, tools: { deny: ["rm"] } });
    const ends: CallOutcome[] = [];
    const starts: string[] = [];
    const refusals: string[] = [];
    // Each observer lacks hooks; calling a missing one would throw (reported through console.error).
    const endOnly: CallObserver = {
      end: (state, _call, outcome) => void ends.push({ ...outcome, error: state }),
    };
    const startOnly: CallObserver = { start: (call) => void starts.push(call.name) };
    const refusedOnly: CallObserver = { refused: (_call, error) => void refusals.push(error.code) };
    const offs = [sre.use(endOnly), sre.use(startOnly), sre.use(refusedOnly)];
    await sre.guard(model(), async () => {
      clock.advance(30);
      return { n: 1 };
    });
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "rm" }, () => 1)).rejects.toThrow(
      RefusalError,
    );
    sre.record({ kind: "model", agentId: "a", name: "gpt-4o" }, { ok: true, durationMs: 5 });
    expect(starts).toEqual(["gpt-4o", "gpt-4o"]);
    // `end` without a `start` gets undefined as its state, and the outcome as usual.
    expect(ends.map((outcome) => [outcome.ok, outcome.durationMs, outcome.error])).toEqual([
      [true, 30, undefined],
      [true, 5, undefined],
    ]);
    expect(refusals).toEqual(["TOOL_NOT_ALLOWED"]);
    for (const off of offs) off();

    // Alone too (no set in front of them), and a hook assigned after use() is not seen.
    const late: CallObserver = {};
    sre.use(refusedOnly);
    sre.use(startOnly);
    const offLate = sre.use(late);
    late.end = () => ends.push({} as CallOutcome);
    await sre.guard(model(), () => ({ n: 2 }));
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "rm" }, () => 1)).rejects.toThrow(
      RefusalError,
    );
    offLate();
    expect(ends).toHaveLength(2);
    expect(starts).toHaveLength(3);
    expect(refusals).toHaveLength(2);
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
  });

  it("asks enabled() once per call, and not at all for an observer with only refused()", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START) });
    let asked = 0;
    const refusing: CallObserver = {
      enabled: () => {
        asked++;
        return true;
      },
      refused: () => {},
    };
    const off = sre.use(refusing);
    await sre.guard(model(), () => ({ n: 1 }));
    expect(asked).toBe(0);
    off();
    const gated = recorder("g");
    gated.observer.enabled = () => {
      asked++;
      return true;
    };
    sre.use(gated.observer);
    await sre.guard(model(), () => ({ n: 1 }));
    expect(asked).toBe(1);
    expect(gated.seen.ends).toHaveLength(1);
  });

  it("a set built by the caller is one observer: registered, then removed, as one", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(START) });
    const first = recorder("1");
    const second = recorder("2");
    const set = new ObserverSet([first.observer, second.observer]);
    const off = sre.use(set);
    await sre.guard(model(), () => ({ n: 1 }));
    expect([first.seen.ends.length, second.seen.ends.length]).toEqual([1, 1]);
    off();
    await sre.guard(model(), () => ({ n: 2 }));
    expect([first.seen.ends.length, second.seen.ends.length]).toEqual([1, 1]);
  });
});
