/**
 * The restart scene of `agent-sre demo`: a real child process with the engine's state in a SQLite file is
 * killed with SIGKILL after its budget killed an agent and a breaker opened; a new process on the same file
 * must still refuse the agent (without calling the provider), show the same spend and keep the breaker OPEN
 * until its original recovery timeout. The in-memory contrast shows the default forgets all of it.
 */
import { Fleet, restartScene } from "@agent-sre/demo";
import { afterEach, describe, expect, it } from "vitest";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

// Spawns three worker processes: an explicit, generous timeout for a loaded machine.
describe("scene: restart (SQLite store across a SIGKILL)", { timeout: 120_000 }, () => {
  it("keeps the kill, the spend to the micro-dollar and the open breaker across kill -9", async () => {
    fleet = new Fleet({ seed: 42 });
    const outcome = await restartScene.run({ fleet, progress: () => {} });
    expect(outcome.facts).toMatchObject({
      signal: "SIGKILL",
      killedBefore: true,
      killedAfter: true,
      breakerBefore: "OPEN",
      breakerAfter: "OPEN",
      modelCallAfterRestart: "AGENT_KILLED",
      toolCallAfterRestart: "CIRCUIT_OPEN",
      providerCallsAfterRestart: 0,
      breakerAfterRecovery: "CLOSED",
      memoryStoreKilledAfter: false,
      memoryStoreSpentAfterUsd: 0,
      memoryStoreProviderCalls: 1,
    });
    expect(outcome.facts.spentAfterUsd).toBe(outcome.facts.spentBeforeUsd);
    // The kill came from the budget: spend reached the kill threshold (95 % of $0.25) without passing the limit.
    expect(outcome.facts.spentBeforeUsd).toBeGreaterThanOrEqual(0.95 * 0.25);
    expect(outcome.facts.spentBeforeUsd).toBeLessThanOrEqual(0.25);
    expect(outcome.contained).toBe(true);
  });
});
