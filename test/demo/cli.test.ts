/**
 * `agent-sre-demo` as a user runs it: the full demo, the command line, the output without a terminal, and
 * determinism (the JSON of two runs with the same seed is identical).
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DemoResult, runDemo, runDemoCli, SCENE_NAMES } from "@agent-sre/demo";
import { describe, expect, it } from "vitest";

const BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "packages",
  "demo",
  "bin",
  "agent-sre-demo.js",
);

function sink() {
  let text = "";
  return { write: (chunk: string) => (text += chunk), isTTY: false, text: () => text };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

// Runs the real demo (and spawns the CLI): generous, explicit timeout so a loaded machine does not fail it.
describe("agent-sre demo", { timeout: 120_000 }, () => {
  it("runs every scene, contains every failure mode, and prints the same JSON for the same seed", async () => {
    const first = sink();
    const second = sink();
    const result: DemoResult = await runDemo({ json: true, output: first });
    await runDemo({ json: true, output: second });
    expect(result.ok).toBe(true);
    expect(result.scenes.map((s) => s.name)).toEqual([...SCENE_NAMES]);
    expect(result.scenes.every((s) => s.contained && s.error === undefined)).toBe(true);
    expect(JSON.parse(first.text())).toEqual(result);
    expect(second.text()).toBe(first.text());
    // The summary: one row per agent, from the engine's status.
    const rows = Object.fromEntries(result.agents.map((row) => [row.agent, row]));
    expect(Object.keys(rows)).toEqual([
      "support-bot",
      "helpdesk-agent",
      "briefing-agent",
      "digest-agent",
      "research-agent",
      "report-writer",
      "ops-agent",
      "checkout-agent",
      "pricing-agent",
      "shipping-agent",
      "picker-agent",
      "packer-agent",
      "tracker-agent",
      "triage-agent",
      "booking-agent",
      "billing-agent",
    ]);
    expect(rows["support-bot"]).toMatchObject({
      framework: "LangChain.js",
      quarantined: true,
      peakRisk: "HIGH",
    });
    expect(rows["ops-agent"]).toMatchObject({ quarantined: true, blocked: 3 });
    expect(rows["report-writer"]?.killed).toBe(true);
    expect(rows["report-writer"]?.spentUsd).toBeLessThanOrEqual(rows["report-writer"]?.budgetUsd as number);
    expect(rows["research-agent"]?.slo).toBe("EXHAUSTED");
    // The delivery scenes: one rollout promoted to 100 %, one rolled back automatically.
    const rollouts = Object.fromEntries(
      result.scenes
        .filter((s) => s.name === "canary" || s.name === "rollback" || s.name === "downgrade")
        .map((s) => [s.name, s.facts]),
    );
    expect(rollouts.downgrade).toMatchObject({ served: 40, refused: 0, killed: false });
    expect(rows["digest-agent"]).toMatchObject({ killed: false, blocked: 0 });
    expect(rollouts.canary).toMatchObject({ state: "completed", mixedTickets: 0 });
    expect(rollouts.rollback).toMatchObject({
      state: "rolled_back",
      automatic: true,
      reachedCandidateAfterRollback: 0,
    });
    // Their tools' upstream (inventory) tripped in the cascade scene and again in the retry storm.
    for (const agent of ["checkout-agent", "pricing-agent", "shipping-agent"]) {
      expect(rows[agent]).toMatchObject({ breaker: "CLOSED", breakerTrips: 2 });
    }
    for (const agent of ["picker-agent", "packer-agent", "tracker-agent"]) {
      expect(rows[agent]).toMatchObject({ framework: "MCP", breaker: "CLOSED" });
    }
    // The on-call scene's agent was killed by its runaway answer, then revived by the on-call.
    expect(rows["billing-agent"]).toMatchObject({ framework: "AI SDK", killed: false, breaker: "CLOSED" });
    expect(result.fleet.openCircuits).toEqual([]);
    expect(result.fleet.deploymentsFrozen).toBe(true);
  });

  it("prints plain, colourless progress and a summary table when stdout is not a terminal", async () => {
    const { code, stdout } = await run(["--scene", "rogue", "--scene", "cost"]);
    expect(code).toBe(0);
    expect(stdout).not.toContain("\x1b[");
    expect(stdout).not.toContain("\r");
    expect(stdout).toMatch(/\[1\/2\] Cost explosion: /);
    expect(stdout).toMatch(/\[2\/2\] Rogue behaviour: /);
    expect(stdout).toContain("Fleet summary");
    expect(stdout).toMatch(/report-writer\s+AI SDK\s+\d+\s+\d+\s+\$0\.99\d+ \/ \$1\.00 KILLED/);
    expect(stdout).toMatch(/ops-agent\s+LangChain\.js .*QUARANTINED \(HIGH\)/);
    expect(stdout).toContain("2/2 failure modes contained");
  });

  it("runs one scene with --scene, prints JSON with --json, and rejects bad usage", async () => {
    const out = sink();
    expect(await runDemoCli(["--scene", "loop", "--json"], { out, err: sink() })).toBe(0);
    const result = JSON.parse(out.text()) as DemoResult;
    expect(result.scenes.map((s) => s.name)).toEqual(["loop"]);
    expect(result.agents.map((a) => a.agent)).toEqual(["support-bot"]);
    const err = sink();
    expect(await runDemoCli(["--scene", "nope"], { out: sink(), err })).toBe(2);
    expect(err.text()).toContain('unknown scene "nope"');
    expect(await runDemoCli(["--seed", "x"], { out: sink(), err: sink() })).toBe(2);
    const list = sink();
    expect(await runDemoCli(["--list"], { out: list, err: sink() })).toBe(0);
    expect(list.text().trim().split("\n")).toHaveLength(SCENE_NAMES.length);
  });
});
