import { describe, expect, it } from "vitest";
import { Fault, validateFault } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "./agent-sre.js";

describe("status() reports open reservations per agent", () => {
  it("a call in flight holds one; settling it gives it back", async () => {
    const sre = new AgentSRE({ clock: new ManualClock(), budget: { perAgentDailyLimitUsd: 10 } });
    const call = {
      kind: "model" as const,
      agentId: "writer",
      taskId: "t1",
      name: "gpt-4o-mini",
      estimate: { inputTokens: 100, outputTokens: 100 },
    };
    const first = await sre.begin(call);
    const second = await sre.begin(call);
    expect(sre.status().agents.writer?.openReservations).toBe(2);
    first.succeed({ inputTokens: 100, outputTokens: 20 });
    second.fail(new Error("boom"));
    expect(sre.status().agents.writer?.openReservations).toBe(0);
  });
});

describe("the seed's chaos names", () => {
  it("Fault.promptInjection(target, { technique: 'direct_override' }) and snake_case fault types map to ours", () => {
    const fault = Fault.promptInjection("tool:*", { technique: "direct_override" });
    expect(fault.technique).toBe("ignore-previous");
    expect(Fault.promptInjection("tool:*", { technique: "tool_hijack" }).technique).toBe("tool-hijack");
    const built = validateFault({ ...Fault.toolAbuse("tool:*"), type: "tool_abuse" });
    expect(built.type).toBe("tool-abuse");
    const escalation = validateFault({
      ...Fault.privilegeEscalation("tool:*"),
      type: "privilege_escalation",
    });
    expect(escalation.type).toBe("privilege-escalation");
  });
});
