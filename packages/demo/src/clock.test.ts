import { sleep } from "@agent-sre/core";
import { describe, expect, it } from "vitest";
import { DemoClock } from "./clock.js";

describe("DemoClock", () => {
  it("fires a short timer by itself once the process is idle, moving time exactly to its deadline", async () => {
    const clock = new DemoClock(1_000);
    // No real timer exists behind a DemoClock: the sleep can only end by the clock moving itself.
    await sleep(clock, 10_000);
    expect(clock.now()).toBe(11_000);
  });

  it("fires due timers in order, and leaves timers beyond autoAdvanceMaxMs to explicit advances", async () => {
    const clock = new DemoClock(0, { autoAdvanceMaxMs: 60_000 });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("long"), 600_000);
    await Promise.all([
      sleep(clock, 2_000).then(() => fired.push("b")),
      sleep(clock, 500).then(() => fired.push("a")),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(2_000);
    clock.advance(598_000);
    expect(fired).toEqual(["a", "b", "long"]);
  });

  it("does not fire a cleared timer", async () => {
    const clock = new DemoClock(0);
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 1_000);
    clock.clearTimeout(handle);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired).toBe(false);
    expect(clock.now()).toBe(0);
  });
});
