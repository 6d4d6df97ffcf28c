import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { refForAgent } from "./agent-ref.js";
import { AgentSRE } from "./agent-sre.js";
import type { TrackedEntries } from "./generations.js";

// `sre.agentRef(id)`: an agent bound once, its calls carrying the ref. The engine reaches the agent's state
// through it instead of by id — the same state, kept tracked while the ref is used, found again once forgotten.

const run = async () => 1;
const tracked = (sre: AgentSRE) => sre.status().tracked as TrackedEntries;

describe("agentRef", () => {
  it("acts on the agent's one state: calls by ref and by id count together, a quarantine by id refuses the ref's calls", async () => {
    const sre = new AgentSRE({});
    const writer = sre.agentRef("writer");
    expect(writer.agentId).toBe("writer");
    await sre.guard(
      { kind: "tool", agentId: "writer", agentRef: writer, name: "search", input: { q: 1 } },
      run,
    );
    await sre.guard({ kind: "tool", agentId: "writer", name: "search", input: { q: 2 } }, run);
    await sre.guard({ kind: "model", agentId: "writer", agentRef: writer, name: "gpt-4.1" }, run);
    // A call recorded from outside the pipeline (observe-only integrations) through the ref: the same agent.
    sre.record(
      { kind: "tool", agentId: "writer", agentRef: writer, name: "search" },
      { ok: true, durationMs: 5 },
    );
    expect(sre.status().agents.writer?.calls).toBe(4);
    expect(tracked(sre).agents).toBe(1);

    sre.quarantine("writer", "operator");
    await expect(
      sre.guard({ kind: "tool", agentId: "writer", agentRef: writer, name: "search" }, run),
    ).rejects.toMatchObject({ code: "AGENT_QUARANTINED" });
    await expect(
      sre.guard({ kind: "model", agentId: "writer", agentRef: writer, name: "gpt-4.1" }, run),
    ).rejects.toMatchObject({ code: "AGENT_QUARANTINED" });
  });

  it("one detector state: identical calls by id and by ref make one loop", async () => {
    const sre = new AgentSRE({ rogue: { loopRepeats: 3 } });
    const ref = sre.agentRef("looper");
    const call = {
      kind: "tool" as const,
      agentId: "looper",
      taskId: "t",
      name: "fetch",
      input: { url: "x" },
    };
    await sre.guard(call, run);
    await sre.guard({ ...call, agentRef: ref }, run);
    await expect(sre.guard({ ...call, agentRef: ref }, run)).rejects.toMatchObject({ code: "LOOP_DETECTED" });
  });

  it("keeps an agent used only through its ref tracked across idle turn-overs", async () => {
    const clock = new ManualClock(0);
    const sre = new AgentSRE({ clock, memory: { idleMs: "10m" } });
    const busy = sre.agentRef("busy");
    await sre.guard({ kind: "tool", agentId: "idle", name: "ping" }, run);
    for (let minute = 1; minute <= 31; minute++) {
      clock.advance(60_000);
      await sre.guard({ kind: "tool", agentId: "busy", agentRef: busy, name: "ping" }, run);
    }
    // Six turn-overs: "idle" is forgotten, "busy" (never looked up by id) is kept with every call counted.
    expect(Object.keys(sre.status().agents)).toEqual(["busy"]);
    expect(sre.status().agents.busy?.calls).toBe(31);
    expect(tracked(sre).evictedAgents).toBe(1);
  });

  it("finds the agent again once it was forgotten (idle, or pushed out by newer agents), with its quarantine", async () => {
    const clock = new ManualClock(0);
    const sre = new AgentSRE({ clock, memory: { idleMs: "2m", maxAgents: 4 } });
    const ref = sre.agentRef("a");
    await sre.guard({ kind: "tool", agentId: "a", agentRef: ref, name: "ping" }, run);
    sre.quarantine("a", "operator");
    sre.release("a");
    await sre.guard({ kind: "tool", agentId: "a", agentRef: ref, name: "ping" }, run);
    expect(sre.status().agents.a?.calls).toBe(2);

    // Pushed out: four newer agents turn the table over twice.
    for (let i = 0; i < 4; i++) await sre.guard({ kind: "tool", agentId: `other-${i}`, name: "ping" }, run);
    expect(sre.status().agents.a).toBeUndefined();
    await sre.guard({ kind: "tool", agentId: "a", agentRef: ref, name: "ping" }, run);
    // A new state: the forgotten one (which the ref still held) was not counted into.
    expect(sre.status().agents.a?.calls).toBe(1);

    // Idle: forgotten after the turn-overs, then quarantined by id while forgotten (kept in the state store).
    clock.advance(5 * 60_000);
    await sre.guard({ kind: "tool", agentId: "b", name: "ping" }, run);
    clock.advance(5 * 60_000);
    await sre.guard({ kind: "tool", agentId: "b", name: "ping" }, run);
    expect(sre.status().agents.a).toBeUndefined();
    sre.quarantine("a", "operator again");
    await expect(
      sre.guard({ kind: "tool", agentId: "a", agentRef: ref, name: "ping" }, run),
    ).rejects.toMatchObject({ code: "AGENT_QUARANTINED" });
  });

  it("refuses a ref of another agent, of another engine, or not made by agentRef, with a ConfigError naming call.agentRef", async () => {
    const sre = new AgentSRE({});
    const other = new AgentSRE({});
    const cases = [
      { agentRef: sre.agentRef("b"), value: "b" },
      { agentRef: other.agentRef("a"), value: "a" },
      { agentRef: { agentId: "a" }, value: "a" },
    ];
    for (const { agentRef, value } of cases) {
      const refused = sre.guard({ kind: "tool", agentId: "a", agentRef, name: "ping" }, run);
      await expect(refused).rejects.toBeInstanceOf(ConfigError);
      await expect(refused).rejects.toMatchObject({ code: "CONFIG_INVALID", field: "call.agentRef", value });
    }
    // A ref used right (bound and current) is still checked against the call's agent.
    const a = sre.agentRef("a");
    await sre.guard({ kind: "tool", agentId: "a", agentRef: a, name: "ping" }, run);
    await expect(
      sre.guard({ kind: "tool", agentId: "b", agentRef: a, name: "ping" }, run),
    ).rejects.toMatchObject({
      field: "call.agentRef",
    });
    expect(() =>
      sre.record({ kind: "tool", agentId: "b", agentRef: a, name: "ping" }, { ok: true, durationMs: 1 }),
    ).toThrow(ConfigError);
    expect(sre.status().agents.a?.calls).toBe(1);
    expect(sre.status().agents.b).toBeUndefined();
    expect(() => sre.agentRef("")).toThrow(ConfigError);
    expect(() => sre.agentRef(42 as never)).toThrow(/agentId/);
  });

  it("refForAgent: an adapter's bound ref for its own agent's calls, none for another agent's (looked up by id)", async () => {
    const sre = new AgentSRE({});
    const bound = sre.agentRef("writer");
    expect(refForAgent(bound, "writer")).toBe(bound);
    expect(refForAgent(bound, "reviewer")).toBeUndefined();
    expect(refForAgent(undefined, "writer")).toBeUndefined();
    // Both calls pass what it gives: each counts on its own agent (a ref of "writer" on a "reviewer" call
    // would be refused).
    for (const agentId of ["writer", "reviewer"]) {
      await sre.guard(
        {
          kind: "tool",
          agentId,
          agentRef: refForAgent(bound, agentId),
          name: "search",
          input: { q: agentId },
        },
        run,
      );
    }
    expect(sre.status().agents.writer?.calls).toBe(1);
    expect(sre.status().agents.reviewer?.calls).toBe(1);
  });

  it("keeps an agent whose first call through its ref filled the table (and turned it over) tracked", async () => {
    // maxAgents 4: the table turns over when its current generation holds 2. The ref's first call adds "a"
    // as the second: "a" ends in the previous generation, and the ref's next call moves it back.
    const sre = new AgentSRE({ memory: { maxAgents: 4 } });
    const ref = sre.agentRef("a");
    let n = 0;
    const viaRef = () =>
      sre.guard({ kind: "tool", agentId: "a", agentRef: ref, name: "ping", input: { n: n++ } }, run);
    await sre.guard({ kind: "tool", agentId: "x", name: "ping" }, run);
    await viaRef();
    await viaRef();
    await sre.guard({ kind: "tool", agentId: "b", name: "ping" }, run);
    await sre.guard({ kind: "tool", agentId: "c", name: "ping" }, run);
    await viaRef();
    expect(sre.status().agents.a?.calls).toBe(3);
  });

  it("checks the call's agent id by value: an equal string made apart is the ref's agent", async () => {
    const sre = new AgentSRE({});
    const ref = sre.agentRef("writer");
    const apart = ["wri", "ter"].join("");
    await sre.guard({ kind: "tool", agentId: "writer", agentRef: ref, name: "search" }, run);
    await sre.guard({ kind: "tool", agentId: apart, agentRef: ref, name: "search" }, run);
    expect(sre.status().agents.writer?.calls).toBe(2);
    await expect(
      sre.guard({ kind: "tool", agentId: ["wri", "tes"].join(""), agentRef: ref, name: "search" }, run),
    ).rejects.toMatchObject({ field: "call.agentRef" });
  });
});
