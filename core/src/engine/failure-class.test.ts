import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { CircuitOpenError, TimeoutError } from "../errors.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";
import { defaultClassifyFailure, tagFailure } from "./failure-class.js";

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

describe("defaultClassifyFailure", () => {
  it("reads HTTP status, timeouts, connection errors, validation errors, tags and causes", () => {
    for (const status of [500, 502, 503, 504, 429, 408])
      expect(defaultClassifyFailure(httpError(status))).toBe("provider");
    for (const status of [400, 401, 403, 404, 409, 422])
      expect(defaultClassifyFailure(httpError(status))).toBe("caller");
    expect(defaultClassifyFailure(Object.assign(new Error("x"), { statusCode: 503 }))).toBe("provider");
    expect(defaultClassifyFailure(Object.assign(new Error("x"), { statusCode: 422 }))).toBe("caller");
    expect(defaultClassifyFailure(new TimeoutError("a", "gpt-4o", 1_000))).toBe("provider");
    expect(defaultClassifyFailure(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))).toBe(
      "provider",
    );
    // fetch() wraps the socket error in a TypeError's cause.
    const fetchFailed = new TypeError("fetch failed", {
      cause: Object.assign(new Error("reset"), { code: "ECONNRESET" }),
    });
    expect(defaultClassifyFailure(fetchFailed)).toBe("provider");
    const zod = Object.assign(new Error("invalid"), { name: "ZodError" });
    expect(defaultClassifyFailure(zod)).toBe("caller");
    expect(defaultClassifyFailure(tagFailure(new Error("tool bug"), "caller"))).toBe("caller");
    expect(defaultClassifyFailure(tagFailure(httpError(400), "provider"))).toBe("provider");
    expect(defaultClassifyFailure(tagFailure(new Error("x"), "ignore"))).toBe("ignore");
    // Unexplained failures stay the target's, as before classification existed.
    expect(defaultClassifyFailure(new Error("boom"))).toBe("provider");
    expect(defaultClassifyFailure("a string")).toBe("provider");
  });
});

function engine(options: AgentSREOptions = {}) {
  return new AgentSRE({
    clock: new ManualClock(Date.UTC(2026, 10, 23, 9)),
    breakers: { defaults: { failureThreshold: 3, recoveryTimeoutMs: 60_000 } },
    ...options,
  });
}

const model = (agentId: string) => ({ kind: "model" as const, agentId, name: "gpt-4o" });
const failWith = (error: unknown) => () => Promise.reject(error);

async function failures(sre: AgentSRE, agentId: string, error: unknown, times: number) {
  for (let i = 0; i < times; i++) await sre.guard(model(agentId), failWith(error)).catch(() => undefined);
}

describe("breaker attribution", () => {
  it("caller-side failures open only that agent's breaker: other agents keep the model", async () => {
    const sre = engine();
    await failures(sre, "sloppy", httpError(400), 5);
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    expect(sre.agentBreaker("sloppy").state).toBe("OPEN");
    await expect(sre.guard(model("sloppy"), () => 1)).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
      breakerId: "agent:sloppy",
    });
    expect(await sre.guard(model("careful"), () => "ok")).toBe("ok");
  });

  it("provider-side failures open the shared model breaker for every agent", async () => {
    const sre = engine();
    await failures(sre, "a", httpError(503), 3);
    expect(sre.breakers.get("model:gpt-4o").state).toBe("OPEN");
    expect(sre.agentBreaker("a").state).toBe("CLOSED");
    const refusal = await sre.guard(model("b"), () => 1).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(CircuitOpenError);
    expect((refusal as CircuitOpenError).breakerId).toBe("model:gpt-4o");
  });

  it("the classifyFailure option overrides the adapter's and the default classification", async () => {
    const sre = engine({
      classifyFailure: (error) => ((error as Error).message === "quota" ? "caller" : undefined),
    });
    await failures(sre, "a", httpError(429), 1); // default: provider
    await failures(sre, "a", Object.assign(httpError(429), { message: "quota" }), 3); // user: caller
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    expect(sre.agentBreaker("a").state).toBe("OPEN");
  });

  it("adapters pass a classification with the outcome: fail(error, usage, class) and call.classifyFailure", async () => {
    const sre = engine();
    for (let i = 0; i < 3; i++) {
      const inFlight = await sre.begin(model("stream"));
      inFlight.fail(new Error("framework validation"), undefined, "caller");
    }
    expect(sre.agentBreaker("stream").state).toBe("OPEN");
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    for (let i = 0; i < 3; i++) {
      await sre
        .guard({ ...model("x"), classifyFailure: () => "ignore" }, failWith(httpError(500)))
        .catch(() => undefined);
    }
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    expect(sre.agentBreaker("x").state).toBe("CLOSED");
    expect(sre.status().agents.x?.failed).toBe(3); // still failed calls for SLOs and status
  });

  it("record() attributes observed failures the same way", () => {
    const sre = engine();
    for (let i = 0; i < 3; i++) sre.record(model("obs"), { ok: false, durationMs: 5, error: httpError(401) });
    expect(sre.agentBreaker("obs").state).toBe("OPEN");
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    for (let i = 0; i < 3; i++)
      sre.record(model("obs2"), { ok: false, durationMs: 5, failureClass: "provider" });
    expect(sre.breakers.get("model:gpt-4o").state).toBe("OPEN");
  });
});

describe("an adapter's outcome mapping (guard's fourth argument)", () => {
  const mapping = (seen: string[]) => ({
    done: (result: unknown) => {
      seen.push(`done ${String(result)}`);
      return `answer to ${String(result)}`;
    },
    failed: (error: unknown) => {
      const code = (error as { code?: string }).code ?? (error as Error).message;
      seen.push(`failed ${code}`);
      if (code === "rethrow") throw error;
      return `refused: ${code}`;
    },
  });

  it("translates a success, a failure, a synchronous throw, a refusal and an abort, each after settlement", async () => {
    const sre = engine();
    const seen: string[] = [];
    sre.on("call.completed", () => seen.push("settled"));
    expect(await sre.guard(model("a"), () => 7, undefined, mapping(seen))).toBe("answer to 7");
    expect(await sre.guard(model("a"), failWith(new Error("boom")), undefined, mapping(seen))).toBe(
      "refused: boom",
    );
    const thrown = () => {
      throw new Error("sync");
    };
    expect(await sre.guard(model("a"), thrown, undefined, mapping(seen))).toBe("refused: sync");
    await expect(
      sre.guard(model("a"), failWith(new Error("rethrow")), undefined, mapping(seen)),
    ).rejects.toThrow("rethrow");
    sre.quarantine("q", "test");
    expect(await sre.guard(model("q"), () => 1, undefined, mapping(seen))).toBe("refused: AGENT_QUARANTINED");
    const aborted = AbortSignal.abort(new Error("gone"));
    expect(await sre.guard(model("a"), () => 1, { signal: aborted }, mapping(seen))).toBe("refused: gone");
    expect(seen).toEqual([
      "settled",
      "done 7",
      "settled",
      "failed boom",
      "settled",
      "failed sync",
      "settled",
      "failed rethrow",
      "failed AGENT_QUARANTINED",
      "failed gone",
    ]);
  });

  it("maps the slow path too (a deadline), and a timeout is a failure it sees", async () => {
    const sre = new AgentSRE({ timeouts: { modelMs: 50 } });
    const seen: string[] = [];
    expect(await sre.guard(model("a"), async () => "late enough", undefined, mapping(seen))).toBe(
      "answer to late enough",
    );
    const never = () => new Promise<never>(() => undefined);
    expect(await sre.guard(model("a"), never, undefined, mapping(seen))).toBe("refused: TIMEOUT");
  });
});
