import { AgentSRE, ManualClock } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import { AlertManager } from "./manager.js";
import { T0 } from "./test-utils/harness.js";
import { FakeService } from "./test-utils/receiver.js";

let hook: FakeService | undefined;
afterEach(async () => {
  await hook?.close();
});

/** Runs `n` tool calls through the engine and returns their outcomes ("ok" or the refusal code). */
async function calls(sre: AgentSRE, name: string, n: number, fail: boolean): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await sre.guard({ kind: "tool", agentId: "support-bot", name, input: { i } }, async () => {
        if (fail) throw new Error("upstream 500");
        return "ok";
      });
      out.push("ok");
    } catch (error) {
      out.push((error as { code?: string }).code ?? "failed");
    }
  }
  return out;
}

describe("a guarded call never waits on a channel", () => {
  it("has the same outcomes, and completes, while the receiver hangs on the breaker alert", async () => {
    // Baseline: the same engine configuration with no alerting.
    const baseline = new AgentSRE({ clock: new ManualClock(T0), rogue: false });
    const expected = [
      ...(await calls(baseline, "search", 6, true)),
      ...(await calls(baseline, "fetch", 20, false)),
    ];

    hook = await FakeService.start("hang");
    const clock = new ManualClock(T0);
    const sre = new AgentSRE({ clock, rogue: false });
    const manager = new AlertManager({
      sre,
      clock,
      receivers: { hook: { type: "webhook", url: hook.url("/alerts"), timeoutMs: "1h" } },
      route: { receiver: "hook", groupWaitMs: 0 },
      logger: { warn: () => {} },
    });
    await manager.ready;
    const order: string[] = [];
    manager.on("alert.firing", (a) => order.push(`alert ${a.name}`));

    const failing = await calls(sre, "search", 6, true); // 5 failures open the breaker; the 6th is refused
    order.push("breaker calls done");
    await clock.advanceAsync(0); // the group flushes: the webhook request goes out and hangs
    await hook.waitFor(1);
    order.push("receiver hanging");
    const during = await calls(sre, "fetch", 20, false);
    order.push(`20 calls done while ${hook.hanging} request hangs`);

    expect([...failing, ...during]).toEqual(expected);
    expect(failing).toEqual(["failed", "failed", "failed", "failed", "failed", "CIRCUIT_OPEN"]);
    expect(order).toEqual([
      "alert BreakerOpen",
      "breaker calls done",
      "receiver hanging",
      "20 calls done while 1 request hangs",
    ]);
    expect(manager.status().receivers[0]?.delivery).toMatchObject({
      pending: 1,
      inFlight: true,
      delivered: 0,
    });
    hook.release({ status: 200, body: "" });
    await manager.idle();
    expect(manager.status().receivers[0]?.delivery).toMatchObject({ pending: 0, delivered: 1 });
    await manager.close();
  });
});
