/**
 * The on-call scene of `agent-sre demo`: a real AI SDK agent (generateText + agentSREMiddleware, scripted
 * provider) through an outage and a runaway answer, with an AlertManager delivering to a local receiver
 * that answers like PagerDuty and Slack. Checked against what the receiver got and the engine's events.
 */
import { alertsScene, Fleet } from "@agent-sre/demo";
import { afterEach, describe, expect, it } from "vitest";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

describe("scene: on-call (AlertManager → PagerDuty + Slack receivers)", () => {
  it("pages for the SLO burn, the exhausted budget and the kill, and resolves each with its own dedup key", async () => {
    fleet = new Fleet({ seed: 42 });
    const outcome = await alertsScene.run({ fleet, progress: () => {} });
    expect(outcome.contained).toBe(true);
    expect(outcome.facts).toMatchObject({
      pagerdutyTriggers: 3,
      pagerdutyResolves: 3,
      pagerdutyPages: ["SloBurnRate", "SloBudgetExhausted", "BudgetKill"],
      slackMessages: 8,
      unresolvedIncidents: 0,
      deadLetters: 0,
      killedCallCode: "AGENT_KILLED",
      firstDeliveryAfterMs: 30_000, // the route's group wait
    });
    const feed = outcome.lines.filter((line) => /PagerDuty|Slack/.test(line));
    const keys = feed.map((line) => / · dedup (\w+)$/.exec(line)?.[1]).filter((k) => k !== undefined);
    // Each trigger's key comes back exactly once, in a resolve, after it.
    for (const key of new Set(keys)) {
      const at = feed.findIndex((line) => line.includes("TRIGGER") && line.endsWith(key));
      const resolved = feed.findIndex((line) => line.includes("RESOLVE ·") && line.endsWith(key));
      expect(at).toBeGreaterThanOrEqual(0);
      expect(resolved).toBeGreaterThan(at);
    }
    // The engine saw what the pages say.
    const events = fleet.events.map((e) => e.name);
    expect(events).toContain("slo.alert");
    expect(events).toContain("budget.kill");
    // The ticket (the model breaker) went to Slack only, and was resolved there.
    expect(
      feed.filter((line) => line.includes("BreakerOpen")).map((line) => line.split(" ").slice(1).join(" ")),
    ).toEqual(["💬 Slack     🟠 [FIRING:1] BreakerOpen", "💬 Slack     ✅ [RESOLVED] BreakerOpen"]);
  }, 60_000);
});
