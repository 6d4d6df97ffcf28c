import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentSRE, type GuardCall, ManualClock, MemoryStore, Recorder } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  expectRunToMatchGolden,
  FileTraceSink,
  GoldenMismatchError,
  listStoredTraces,
  readTraceFile,
  StateStoreTraceSink,
} from "./index.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-sre-replay-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function runOnce(recorder: Recorder, args: { orderId: string }, taskId = "ticket-1") {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({ clock });
  recorder.attach(sre);
  const call: GuardCall<unknown> = { kind: "tool", agentId: "support", taskId, name: "lookup", input: args };
  await sre.guard(call, async () => {
    clock.advance(25);
    const result = { orderId: args.orderId, status: "delivered", apiKey: "sk-live-0123456789abcdefghij" };
    recorder.response(call, result);
    return result;
  });
  return recorder.endRun("support", taskId);
}

describe("@agent-sre/replay sinks", () => {
  it("the file sink writes one JSON Lines file per run, redacted", async () => {
    const dir = tempDir();
    const sink = new FileTraceSink({ dir });
    const recorder = new Recorder({ sink });
    await runOnce(recorder, { orderId: "42" });
    await recorder.drain();
    expect(sink.written).toHaveLength(1);
    const file = sink.written[0] as string;
    expect(file).toMatch(/support[/\\]ticket-1-[0-9a-f]{12}\.jsonl$/);
    expect(readFileSync(file, "utf8")).not.toContain("sk-live-0123456789");
    const trace = readTraceFile(file);
    expect(trace.calls[0]).toMatchObject({ name: "lookup", response: { apiKey: "[REDACTED]" } });
  });

  it("the state-store sink keeps traces with the engine's state, with a TTL", async () => {
    const store = new MemoryStore();
    const recorder = new Recorder({ sink: new StateStoreTraceSink(store, { ttlMs: 60_000 }, () => START) });
    await runOnce(recorder, { orderId: "42" }, "a");
    await runOnce(recorder, { orderId: "43" }, "b");
    const stored = listStoredTraces(store, { agentId: "support" });
    expect(stored.map((s) => s.taskId).sort()).toEqual(["a", "b"]);
    expect(stored[0]?.trace.calls[0]?.name).toBe("lookup");
  });
});

describe("expectRunToMatchGolden", () => {
  it("records on the first run, matches afterwards, and fails with a step diff on a change", async () => {
    const dir = tempDir();
    const file = join(dir, "traces", "lookup.jsonl");
    const first = await runOnce(new Recorder(), { orderId: "42" });
    expect(expectRunToMatchGolden(first, file, { create: true }).status).toBe("created");
    const again = await runOnce(new Recorder(), { orderId: "42" });
    expect(expectRunToMatchGolden(again, file).status).toBe("matched");

    const changed = await runOnce(new Recorder(), { orderId: "43" });
    let error: unknown;
    try {
      expectRunToMatchGolden(changed, file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GoldenMismatchError);
    expect((error as Error).message).toContain('~ #1 tool lookup\n    request.orderId: "42" → "43"');
    // Ignored fields and tolerances are the caller's to widen.
    expect(
      expectRunToMatchGolden(changed, file, { ignore: ["request.orderId", "response.orderId"] }).status,
    ).toBe("matched");
    expect(expectRunToMatchGolden(changed, file, { update: true }).status).toBe("updated");
    expect(expectRunToMatchGolden(changed, file).status).toBe("matched");
  });

  it("compares timings only when asked, within the tolerance given", async () => {
    const dir = tempDir();
    const file = join(dir, "t.jsonl");
    const run = await runOnce(new Recorder(), { orderId: "42" });
    expectRunToMatchGolden(run, file, { create: true });
    const slower = (run?.text ?? "").replace('"durationMs":25', '"durationMs":40');
    expect(expectRunToMatchGolden(slower, file).status).toBe("matched");
    expect(() => expectRunToMatchGolden(slower, file, { timings: { absolute: 5 } })).toThrow(
      /timing\.durationMs: 25 → 40/,
    );
    expect(expectRunToMatchGolden(slower, file, { timings: { absolute: 20 } }).status).toBe("matched");
  });

  it("does not create a missing golden in CI", async () => {
    const run = await runOnce(new Recorder(), { orderId: "42" });
    expect(() => expectRunToMatchGolden(run, join(tempDir(), "missing.jsonl"), { create: false })).toThrow(
      /is missing/,
    );
  });
});
