import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { CallObservation } from "../types.js";
import { AgentSRE } from "./agent-sre.js";
import type { OutcomeMapping } from "./failure-class.js";
import type { GuardCall } from "./types.js";

/** A call object that is its own outcome mapping (as LangChain's are): its methods see it as `this`. */
class SelfMappedCall implements GuardCall<number>, OutcomeMapping<number, string> {
  readonly kind = "model" as const;
  readonly agentId = "a";
  readonly name = "gpt-4o-mini";
  readonly provider = "openai";
  readonly estimate = { inputTokens: 10, outputTokens: 10 };
  seen: unknown[] = [];
  usage(result: number) {
    this.seen.push(["usage", result]);
    return { inputTokens: result, outputTokens: 1 };
  }
  done(result: number): string {
    this.seen.push(["done", result]);
    return `done ${result}`;
  }
  failed(error: unknown): string {
    this.seen.push(["failed", (error as Error).message]);
    if ((error as Error).message === "rethrow") throw error;
    return `failed ${(error as Error).message}`;
  }
}

const engine = () => {
  const sre = new AgentSRE({ clock: new ManualClock(), budget: { perTaskLimitUsd: 1e6 } });
  const completed: CallObservation[] = [];
  sre.on("call.completed", (event) => completed.push(event));
  return { sre, completed };
};

describe("sre.guard with an outcome mapping: the settled call translated in the engine's reaction", () => {
  it("a call that is its own mapping: usage, then done, on the call object; settled once", async () => {
    const { sre, completed } = engine();
    const call = new SelfMappedCall();
    await expect(sre.guard(call, () => Promise.resolve(7), undefined, call)).resolves.toBe("done 7");
    expect(call.seen).toEqual([
      ["usage", 7],
      ["done", 7],
    ]);
    expect(completed.map((c) => [c.ok, c.inputTokens])).toEqual([[true, 7]]);
  });

  it("a call that is its own mapping: a failed run goes to failed, which may answer or rethrow", async () => {
    const { sre, completed } = engine();
    const call = new SelfMappedCall();
    await expect(sre.guard(call, () => Promise.reject(new Error("503")), undefined, call)).resolves.toBe(
      "failed 503",
    );
    const again = new SelfMappedCall();
    await expect(
      sre.guard(again, () => Promise.reject(new Error("rethrow")), undefined, again),
    ).rejects.toThrow("rethrow");
    const sync = new SelfMappedCall();
    await expect(
      sre.guard(
        sync,
        () => {
          throw new Error("sync");
        },
        undefined,
        sync,
      ),
    ).resolves.toBe("failed sync");
    expect(call.seen).toEqual([["failed", "503"]]);
    expect(completed.map((c) => c.ok)).toEqual([false, false, false]);
  });

  it("a separate mapping object: done and failed called on it, with the same results", async () => {
    const { sre, completed } = engine();
    const call = new SelfMappedCall();
    const seen: unknown[] = [];
    const mapping: OutcomeMapping<number, string> = {
      done(result) {
        seen.push(["done", result, this === mapping]);
        return `mapped ${result}`;
      },
      failed(error) {
        seen.push(["failed", (error as Error).message, this === mapping]);
        return "mapped failure";
      },
    };
    await expect(sre.guard(call, () => Promise.resolve(3), undefined, mapping)).resolves.toBe("mapped 3");
    await expect(sre.guard(call, () => Promise.reject(new Error("x")), undefined, mapping)).resolves.toBe(
      "mapped failure",
    );
    expect(seen).toEqual([
      ["done", 3, true],
      ["failed", "x", true],
    ]);
    // The call's own methods are not its mapping here: only its usage is read.
    expect(call.seen).toEqual([["usage", 3]]);
    expect(completed.map((c) => c.ok)).toEqual([true, false]);
  });
});
