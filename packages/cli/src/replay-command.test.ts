import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentSRE, type GuardCall, ManualClock, Recorder } from "@agent-sre/core";
import { describe, expect, it } from "vitest";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run } from "./cli.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}, cwd: tmpdir() },
    out,
    err,
  };
}

const dir = mkdtempSync(join(tmpdir(), "agent-sre-replay-cli-"));

/** Records a support agent's run (a model call, two tools) and writes it as a trace file. */
async function recordRun(name: string, orderId = "42"): Promise<string> {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 10));
  const sre = new AgentSRE({ clock });
  const recorder = new Recorder({ source: "test" });
  recorder.attach(sre);
  const model: GuardCall<unknown> = {
    kind: "model",
    agentId: "support",
    taskId: "ticket-7",
    name: "gpt-4o",
    provider: "openai",
    estimate: { inputTokens: 1_000, outputTokens: 500 },
    usage: () => ({ inputTokens: 1_000, outputTokens: 300 }),
  };
  await sre.guard(model, async () => {
    clock.advance(900);
    return "calls lookup and refund";
  });
  for (const tool of ["lookup_order", "refund"]) {
    await sre.guard(
      { kind: "tool", agentId: "support", taskId: "ticket-7", name: tool, input: { orderId } },
      async () => {
        clock.advance(40);
        return "ok";
      },
    );
  }
  const file = join(dir, name);
  writeFileSync(file, recorder.endRun("support", "ticket-7")?.text ?? "");
  return file;
}

function whatIf(section: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "agent-sre-what-if-")), "what-if.json");
  writeFileSync(file, JSON.stringify({ agentSre: section }));
  return file;
}

describe("agent-sre replay", () => {
  it("replays a trace under engine defaults: every call decided as recorded, exit 0", async () => {
    const trace = await recordRun("same.jsonl");
    const { io, out } = capture();
    expect(await run(["replay", trace], io)).toBe(EXIT_OK);
    expect(out.join("\n")).toMatch(/replayed 3 calls: identical to the recording/);
  });

  it("what-if: a deny rule names the call it would have stopped and exits 1 (for CI)", async () => {
    const trace = await recordRun("deny.jsonl");
    const { io, out } = capture();
    expect(await run(["replay", trace, "--config", whatIf({ tools: { deny: ["refund"] } })], io)).toBe(
      EXIT_FAILURE,
    );
    const text = out.join("\n");
    expect(text).toMatch(/what-if: #3 tool refund would have been refused: TOOL_NOT_ALLOWED/);
    expect(text).toMatch(/first call the config would have stopped: #3 tool refund \(TOOL_NOT_ALLOWED\)/);

    const json = capture();
    expect(
      await run(
        ["replay", trace, "--config", whatIf({ budgets: { perTaskLimitUsd: 0.001 } }), "--json"],
        json.io,
      ),
    ).toBe(EXIT_FAILURE);
    const report = JSON.parse(json.out.join("\n"));
    expect(report.firstRefusal).toMatchObject({
      seq: 1,
      kind: "model",
      replayed: { code: "BUDGET_EXCEEDED" },
    });
  });

  it("checks the what-if config like a proxy config: every problem with its path", async () => {
    const trace = await recordRun("bad-config.jsonl");
    const { io, err } = capture();
    const code = await run(
      ["replay", trace, "--config", whatIf({ tools: { dney: ["x"] }, budgets: { perTaskLimitUsd: -1 } })],
      io,
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(err.join("\n")).toMatch(/agentSre\.tools\.dney/);
    expect(await run(["replay"], capture().io)).toBe(EXIT_USAGE);
  });
});

describe("agent-sre diff", () => {
  it("exits 0 for equal runs and 1 at the first differing step, with the diff", async () => {
    const a = await recordRun("a.jsonl");
    const b = await recordRun("b.jsonl");
    const c = await recordRun("c.jsonl", "43");
    const same = capture();
    expect(await run(["diff", a, b], same.io)).toBe(EXIT_OK);
    expect(same.out.join("\n")).toMatch(/equal: 3 steps/);
    const changed = capture();
    expect(await run(["diff", a, c], changed.io)).toBe(EXIT_FAILURE);
    expect(changed.out.join("\n")).toMatch(/~ #2 tool lookup_order\n {4}request\.orderId: "42" → "43"/);
    expect(changed.out.join("\n")).toMatch(/first divergence at step 2/);
    expect(await run(["diff", a, c, "--ignore", "request.orderId"], capture().io)).toBe(EXIT_OK);
    expect(await run(["diff", a], capture().io)).toBe(EXIT_USAGE);
  });
});
