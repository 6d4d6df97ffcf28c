import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import type { GuardCall } from "../engine/types.js";
import { GenAIPriceCatalog } from "./price-catalog.js";

// A model whose price changes with time (deepseek's off-peak hours, a price change from a date) is priced at
// the time the engine read for the call, not at a clock read of the catalog's own (issue 18): such a model
// call read the clock four times, now twice, like any other.

const usage = { inputTokens: 1000, outputTokens: 500 };
const deepseek: GuardCall<number> = {
  kind: "model",
  agentId: "a",
  taskId: "t",
  name: "deepseek-chat",
  provider: "deepseek",
  estimate: { inputTokens: 1000, outputTokens: 500 },
  usage: () => usage,
};
const run = async () => 1;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("prices that change with time", () => {
  it("a model call reads the system clock twice: pre-flight and settle", async () => {
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 100 } });
    await sre.guard(deepseek, run); // the catalog's first lookup of the model reads the clock once
    const reads = vi.spyOn(Date, "now");
    await sre.guard(deepseek, run);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it("prices the estimate and the usage at the engine's times (peak and off-peak differ)", async () => {
    const costs: number[] = [];
    for (const hour of [3, 17]) {
      const at = Date.UTC(2026, 0, 10, hour);
      vi.spyOn(Date, "now").mockReturnValue(at);
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 100 } });
      let costUsd = Number.NaN;
      sre.on("call.completed", (observation) => {
        costUsd = observation.costUsd;
      });
      await sre.guard(deepseek, run);
      const expected = new GenAIPriceCatalog({ clock: new ManualClock(at) }).costMicros(
        "deepseek-chat",
        usage,
        "deepseek",
      );
      expect(costUsd).toBe((expected as number) / 1_000_000);
      costs.push(costUsd);
      vi.restoreAllMocks();
    }
    expect(costs[0]).not.toBe(costs[1]);
  });

  it("a catalog on a clock of its own prices at its clock, whatever time the caller passes", () => {
    const catalog = new GenAIPriceCatalog({ clock: new ManualClock(Date.UTC(2026, 0, 10, 17)) });
    const offPeak = catalog.costMicros("deepseek-chat", usage, "deepseek");
    expect(catalog.costMicros("deepseek-chat", usage, "deepseek", Date.UTC(2026, 0, 10, 3))).toBe(offPeak);
    const system = new GenAIPriceCatalog();
    expect(system.costMicros("deepseek-chat", usage, "deepseek", Date.UTC(2026, 0, 10, 3))).toBe(
      new GenAIPriceCatalog({ clock: new ManualClock(Date.UTC(2026, 0, 10, 3)) }).costMicros(
        "deepseek-chat",
        usage,
        "deepseek",
      ),
    );
  });
});
