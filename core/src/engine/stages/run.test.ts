import { describe, expect, it } from "vitest";
import { AgentSRE } from "../agent-sre.js";
import type { GuardedCall } from "../guarded-call.js";

// The usual call settles in one reaction on what `run` returns (run.ts; a pool of reused reactions was measured in
// session 17 and not kept): each call settles its own call in flight, once, before its caller resumes, whatever
// the order calls finish in and however many are in flight.
const toolCall = (i: number) => ({ kind: "tool" as const, agentId: "a", name: "t", input: { i } });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("the usual call's settlement", () => {
  it("settles each call before its caller resumes, with its own result, across many sequential calls", async () => {
    const sre = new AgentSRE({ rogue: false });
    for (let i = 0; i < 1_000; i++) {
      let seen: GuardedCall | undefined;
      const result = await sre.guard(toolCall(i), async (_signal, inFlight) => {
        seen = inFlight;
        return i;
      });
      expect(result).toBe(i);
      expect(seen?.settled).toBe(true);
    }
    expect(sre.status().agents.a?.calls).toBe(1_000);
  });

  it("matches results and failures to their calls when many are in flight and finish in any order", async () => {
    const sre = new AgentSRE({ rogue: false, retryBudget: false });
    const count = 300;
    const pending = Array.from({ length: count }, () => deferred<number>());
    const calls: GuardedCall[] = [];
    const guarded = pending.map((d, i) =>
      sre.guard(toolCall(i), (_signal, inFlight) => {
        calls[i] = inFlight;
        return d.promise;
      }),
    );
    const errors = new Map<number, Error>();
    // Finish in a scrambled order; every third fails.
    const order = Array.from({ length: count }, (_, i) => (i * 7) % count);
    for (const i of order) {
      const d = pending[i] as ReturnType<typeof deferred<number>>;
      if (i % 3 === 0) {
        const error = new Error(`failed ${i}`);
        errors.set(i, error);
        d.reject(error);
      } else {
        d.resolve(i * 10);
      }
    }
    const outcomes = await Promise.allSettled(guarded);
    outcomes.forEach((outcome, i) => {
      if (i % 3 === 0) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toBe(errors.get(i));
      } else {
        expect(outcome).toEqual({ status: "fulfilled", value: i * 10 });
      }
      expect(calls[i]?.settled).toBe(true);
    });
    const agent = sre.status().agents.a;
    expect(agent?.calls).toBe(count);
    expect(agent?.failed).toBe(count / 3);
  });

  it("fails the call before the caller sees the same error, and a guard nested in run settles on its own", async () => {
    const sre = new AgentSRE({ rogue: false });
    const error = new Error("tool broke");
    let outer: GuardedCall | undefined;
    let inner: GuardedCall | undefined;
    const caught = await sre
      .guard(toolCall(1), async (_signal, inFlight) => {
        outer = inFlight;
        const value = await sre.guard(toolCall(2), async (_s, nested) => {
          inner = nested;
          return 2;
        });
        expect(value).toBe(2);
        expect(inner?.settled).toBe(true);
        expect(outer.settled).toBe(false);
        throw error;
      })
      .catch((e: unknown) => {
        expect(outer?.settled).toBe(true);
        return e;
      });
    expect(caught).toBe(error);
    // The next call settles its own call in flight, not the one settled before.
    let next: GuardedCall | undefined;
    await sre.guard(toolCall(3), async (_signal, inFlight) => {
      next = inFlight;
      return 3;
    });
    expect(next).not.toBe(outer);
    expect(next?.settled).toBe(true);
  });

  it("settles a run that returns a value or throws synchronously", async () => {
    const sre = new AgentSRE({ rogue: false });
    await expect(sre.guard(toolCall(1), () => 7)).resolves.toBe(7);
    const error = new Error("sync");
    await expect(
      sre.guard(toolCall(2), () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(sre.status().agents.a?.failed).toBe(1);
  });
});
