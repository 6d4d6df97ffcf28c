import { AgentSRE, ManualClock } from "@agent-sre/core";
import { APICallError, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { describe, expect, it } from "vitest";
import { agentSREMiddleware } from "./index.js";

// The tap observes the provider's own stream however it is read: a reader, a pipe (as streamText reads
// it), async iteration, tee, or a pipe with options (which go through one stream of the tap's own).

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

const PARTS = [
  { type: "stream-start", warnings: [] },
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "Paris" },
  { type: "text-end", id: "t" },
  { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(10, 2) },
];

/**
 * A provider stream that hands out `parts`, then stalls forever when `stall` (a hung connection), or errors
 * with `fail` (a dropped connection).
 */
function providerStream(parts: unknown[], stall = false, fail?: Error) {
  let i = 0;
  let onCancel: () => void = () => {};
  const state = {
    cancelled: undefined as unknown,
    whenCancelled: new Promise<void>((resolve) => {
      onCancel = resolve;
    }),
  };
  const stream = new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]);
      else if (fail !== undefined) controller.error(fail);
      else if (!stall) controller.close();
      else return new Promise<void>(() => {});
    },
    cancel(reason) {
      state.cancelled = reason ?? "cancelled";
      onCancel();
    },
  });
  return { stream, state };
}

function setup(
  parts: unknown[] = PARTS,
  options: { stall?: boolean; fail?: Error; timeoutMs?: number; budget?: boolean } = {},
) {
  const clock = new ManualClock(0);
  const sre = new AgentSRE(
    options.budget === true ? { clock, budget: { perAgentDailyLimitUsd: 100 } } : { clock },
  );
  const completed: Array<{ ok: boolean; outputTokens: number }> = [];
  sre.on("call.completed", (e) => completed.push({ ok: e.ok, outputTokens: e.outputTokens }));
  const provider = { state: { cancelled: undefined as unknown, whenCancelled: Promise.resolve() } };
  const model = wrapLanguageModel({
    model: new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1",
      doStream: async () => {
        const made = providerStream(parts, options.stall, options.fail);
        provider.state = made.state;
        return { stream: made.stream };
      },
    }),
    middleware: agentSREMiddleware(sre, {
      agentId: "a",
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    }),
  });
  const stream = async (abortSignal?: AbortSignal) =>
    (await model.doStream({ prompt: [], abortSignal })).stream as ReadableStream<{ type: string }>;
  return { sre, clock, completed, provider, stream };
}

async function readAll(reader: ReadableStreamDefaultReader<{ type: string }>) {
  const types: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return types;
    types.push(value.type);
  }
}

const TYPES = PARTS.map((p) => p.type);

describe("the stream tap", () => {
  it("hands the provider's parts through unchanged to a reader, and settles with the finish part's usage", async () => {
    const { stream, completed, sre } = setup();
    expect(await readAll((await stream()).getReader())).toEqual(TYPES);
    expect(completed).toEqual([{ ok: true, outputTokens: 2 }]);
    expect(sre.status().agents.a?.calls).toBe(1);
  });

  it("a pipe (as streamText reads it) sees the same parts and settles the same way", async () => {
    const { stream, completed } = setup();
    const piped = (await stream()).pipeThrough(new TransformStream());
    expect(await readAll(piped.getReader())).toEqual(TYPES);
    expect(completed).toEqual([{ ok: true, outputTokens: 2 }]);
  });

  it("async iteration, tee and a pipe with options read through the tap too", async () => {
    const iterated = setup();
    const types: string[] = [];
    for await (const part of (await iterated.stream()) as unknown as AsyncIterable<{ type: string }>)
      types.push(part.type);
    expect(types).toEqual(TYPES);
    expect(iterated.completed).toEqual([{ ok: true, outputTokens: 2 }]);

    const teed = setup();
    const [left, right] = (await teed.stream()).tee();
    expect(await Promise.all([readAll(left.getReader()), readAll(right.getReader())])).toEqual([
      TYPES,
      TYPES,
    ]);
    expect(teed.completed).toHaveLength(1);

    const withOptions = setup();
    const sink: string[] = [];
    await (await withOptions.stream()).pipeTo(
      new WritableStream({ write: (part) => void sink.push(part.type) }),
      { preventClose: true },
    );
    expect(sink).toEqual(TYPES);
    expect(withOptions.completed).toEqual([{ ok: true, outputTokens: 2 }]);
  });

  it("a consumer that cancels a piped stream cancels the provider's: a cancellation, not a model failure", async () => {
    const { stream, completed, provider, sre } = setup(PARTS.slice(0, 3), { stall: true });
    const piped = (await stream()).pipeThrough(new TransformStream());
    const reader = piped.getReader();
    await reader.read();
    await reader.read();
    await reader.cancel(new Error("user went away"));
    await provider.state.whenCancelled;
    expect(provider.state.cancelled).toBeInstanceOf(Error);
    expect(completed).toEqual([]); // a cancellation is charged but not observed as the model's outcome
    expect(sre.breakers.get("model:gpt-4.1").snapshot().failureCount).toBe(0);
  });

  it("a stalled piped stream ends with a retryable APICallError at the call's deadline; the provider's is cancelled", async () => {
    const { stream, clock, completed, provider } = setup(PARTS.slice(0, 3), {
      stall: true,
      timeoutMs: 1_000,
    });
    const reader = (await stream()).pipeThrough(new TransformStream()).getReader();
    for (let i = 0; i < 3; i++) await reader.read(); // up to the delta; then the provider stalls
    const pending = reader.read();
    await clock.advance(1_100);
    const error = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).isRetryable).toBe(true);
    expect(provider.state.cancelled).toBeDefined();
    expect(completed).toEqual([{ ok: false, outputTokens: 2 }]);
  });

  it("a piped stream whose provider fails mid-stream: the error reaches the reader, the call fails once", async () => {
    const dropped = new Error("connection reset");
    const { stream, completed, sre } = setup(PARTS.slice(0, 3), { fail: dropped, budget: true });
    const reader = (await stream()).pipeThrough(new TransformStream()).getReader();
    expect(sre.budget.agentStatus("a").openReservations).toBe(1);
    const error = await readAll(reader).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBe(dropped);
    // Charged with what it produced ("Paris": 2 tokens at 4 characters a token), settled once.
    expect(completed).toEqual([{ ok: false, outputTokens: 2 }]);
    expect(sre.budget.agentStatus("a").openReservations).toBe(0);
    expect(sre.breakers.get("model:gpt-4.1").snapshot().failureCount).toBe(1);
  });

  it("a caller's abort mid-pipe settles the call once as a cancellation and releases its reservation", async () => {
    const { stream, completed, provider, sre } = setup(PARTS.slice(0, 3), { stall: true, budget: true });
    const caller = new AbortController();
    const reader = (await stream(caller.signal)).pipeThrough(new TransformStream()).getReader();
    expect(sre.budget.agentStatus("a").openReservations).toBe(1);
    for (let i = 0; i < 3; i++) await reader.read();
    caller.abort(new Error("user went away"));
    await reader.cancel(caller.signal.reason); // what ai@7 does on abort
    await provider.state.whenCancelled;
    expect(sre.budget.agentStatus("a").openReservations).toBe(0);
    // Charged with the prompt estimate and the output it produced, not judged.
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeGreaterThan(0);
    expect(completed).toEqual([]);
    expect(sre.breakers.get("model:gpt-4.1").snapshot().failureCount).toBe(0);
    expect(sre.status().agents.a?.calls).toBe(1);
  });

  it("a pipe into a locked destination fails as ReadableStream's own does and leaves the stream readable", async () => {
    const { stream, completed } = setup();
    const tapped = await stream();
    const busy = new TransformStream();
    const holder = busy.writable.getWriter();
    expect(() => tapped.pipeThrough(busy)).toThrow(TypeError);
    await expect(tapped.pipeTo(busy.writable)).rejects.toThrow(TypeError);
    holder.releaseLock();
    expect(tapped.locked).toBe(false);
    expect(await readAll(tapped.getReader())).toEqual(TYPES);
    expect(completed).toEqual([{ ok: true, outputTokens: 2 }]);
  });

  it("a stream read while another read is pending keeps the parts in order", async () => {
    const { stream } = setup();
    const reader = (await stream()).getReader();
    const reads = await Promise.all(TYPES.map(() => reader.read()));
    expect(reads.map((r) => r.value?.type)).toEqual(TYPES);
    expect((await reader.read()).done).toBe(true);
  });
});

describe("the in-flight cap's allowance", () => {
  const deltas = (count: number) => [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
    ...Array.from({ length: count }, () => ({ type: "text-delta", id: "t", delta: "word word " })),
    { type: "text-end", id: "t" },
    { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(10, 3 * count) },
  ];

  /** A provider that ignores `maxOutputTokens` (as a runaway stream does) and hands out `parts`. */
  function guarded(parts: unknown[], perTaskLimitUsd: number, maxOutputTokens = 2) {
    const sre = new AgentSRE({ clock: new ManualClock(0), budget: { perTaskLimitUsd } });
    const cutOffs: Array<{ allowance: number; outputTokens: number }> = [];
    const model = wrapLanguageModel({
      model: new MockLanguageModelV3({
        provider: "openai.chat",
        modelId: "gpt-4.1",
        doStream: async () => ({ stream: providerStream(parts).stream }),
      }),
      middleware: agentSREMiddleware(sre, {
        agentId: "a",
        taskId: "t",
        onCutOff: (info) => cutOffs.push(info),
      }),
    });
    const read = async () => {
      const { stream } = await model.doStream({ prompt: [], maxOutputTokens });
      const seen: Array<{ type: string; delta?: string; finishReason?: { raw?: string } }> = [];
      const reader = (stream as ReadableStream).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) seen.push(r.value);
      return seen;
    };
    return { sre, cutOffs, read };
  }

  it("a stream within what its reservation holds reads no budget", async () => {
    const { sre, read } = guarded(PARTS, 1, 100);
    let reads = 0;
    const headroom = sre.budget.headroom.bind(sre.budget);
    sre.budget.headroom = (...args) => {
      reads++;
      return headroom(...args);
    };
    const seen = await read();
    expect(seen.map((p) => p.type)).toEqual(PARTS.map((p) => p.type));
    expect(reads).toBe(0);
  });

  it("past its reservation, the allowance is read once; output within it passes", async () => {
    const { sre, cutOffs, read } = guarded(deltas(10), 1);
    let reads = 0;
    const headroom = sre.budget.headroom.bind(sre.budget);
    sre.budget.headroom = (...args) => {
      reads++;
      return headroom(...args);
    };
    const seen = await read();
    expect(seen.filter((p) => p.type === "text-delta")).toHaveLength(10);
    expect(seen.at(-1)?.finishReason?.raw).toBe("stop");
    expect(reads).toBe(1);
    expect(cutOffs).toEqual([]);
  });

  it("past its reservation, a stream that passes the budget's allowance is cut off there", async () => {
    // $0.0001 pays for ~12 output tokens of gpt-4.1 ($8 / M): more than the 2 the reservation holds.
    const { cutOffs, read } = guarded(deltas(10), 0.0001);
    const seen = await read();
    const text = seen
      .filter((p) => p.type === "text-delta")
      .map((p) => p.delta)
      .join("");
    expect(seen.at(-1)?.finishReason?.raw).toBe("agent-sre-budget");
    expect(cutOffs).toHaveLength(1);
    const { allowance } = cutOffs[0] as { allowance: number };
    expect(allowance).toBeGreaterThan(2);
    expect(text.length).toBe(allowance * 4);
  });

  it("a cut-off closes the blocks still open, in the order they opened", async () => {
    const words = (id: string) =>
      Array.from({ length: 10 }, () => ({ type: "text-delta", id, delta: "word word " }));
    const types = (seen: Array<{ type: string; id?: string }>) =>
      seen
        .slice(seen.findLastIndex((p) => p.type === "text-delta") + 1)
        .map((p) => `${p.type} ${p.id ?? ""}`);
    // One block open (closed and reopened before: only the open one ends).
    const one = guarded(
      [
        { type: "stream-start", warnings: [] },
        { type: "reasoning-start", id: "r" },
        { type: "reasoning-end", id: "r" },
        { type: "text-start", id: "a" },
        ...words("a"),
        { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(10, 30) },
      ],
      0.0001,
    );
    expect(types(await one.read())).toEqual(["text-end a", "finish "]);
    // Three open at a time, one of them closed again: the other two end in opening order.
    const three = guarded(
      [
        { type: "stream-start", warnings: [] },
        { type: "reasoning-start", id: "r" },
        { type: "tool-input-start", id: "c" },
        { type: "text-start", id: "a" },
        { type: "tool-input-end", id: "c" },
        ...words("a"),
        { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(10, 30) },
      ],
      0.0001,
    );
    expect(types(await three.read())).toEqual(["reasoning-end r", "text-end a", "finish "]);
  });
});
