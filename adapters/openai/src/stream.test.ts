// biome-ignore-all lint/suspicious/noExplicitAny: stream items are built and read structurally
// The guarded stream's per-item handling, one handler per endpoint (chat chunks, responses events), against a
// model of what the adapter promises: every item passed on until the output passes the allowance, then what
// still fits of the crossing item and a "length" ending; usage from the final chunk / completed event; a
// responses `error` event (and nothing in a chat chunk) fails the call; the recorded stream is what the reader
// got; concurrent `next()` calls are served in order.
import { AgentSRE, parseTrace, Recorder } from "@agent-sre/core";
import fc from "fast-check";
import { Stream } from "openai/streaming";
import { describe, expect, it } from "vitest";
import { estimateInputTokens, guardOpenAI } from "./index.js";

const MODEL = "gpt-4.1";
const CHARS_PER_TOKEN = 4;

const chatChunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: MODEL,
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
});
const chatUsage = {
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: MODEL,
  choices: [],
  usage: { prompt_tokens: 30, completion_tokens: 7, total_tokens: 37 },
};
const responsesCompleted = {
  type: "response.completed",
  response: { id: "r", status: "completed", usage: { input_tokens: 30, output_tokens: 7, total_tokens: 37 } },
};

const text = fc.string({ maxLength: 9 });
const chatItem = fc.oneof(
  text.map((content) => chatChunk({ content })),
  text.map((refusal) => chatChunk({ refusal })),
  text.map((args) => chatChunk({ tool_calls: [{ index: 0, function: { arguments: args } }] })),
  // A chat chunk is never an `error` event: only the responses handler reads `type`.
  text.map((content) => chatChunk({ content }, { type: "error", message: "not an event" })),
);
const responsesItem = fc.oneof(
  text.map((delta) => ({ type: "response.output_text.delta", delta })),
  text.map((delta) => ({ type: "response.function_call_arguments.delta", delta })),
  fc.constant({ type: "response.created", response: { id: "r", status: "in_progress" } }),
  fc.constant({ type: "error", message: "overloaded" }),
);

/** The text an item adds to the output (the adapter's count), or undefined. */
function textOf(endpoint: "chat" | "responses", item: any): string | undefined {
  if (endpoint === "responses") {
    return item.type.endsWith(".delta") && item.delta.length > 0 ? item.delta : undefined;
  }
  const delta = item.choices?.[0]?.delta;
  if (delta === undefined) return undefined;
  if (typeof delta.content === "string" && delta.content.length > 0) return delta.content;
  if (typeof delta.refusal === "string" && delta.refusal.length > 0) return delta.refusal;
  const args = delta.tool_calls?.[0]?.function?.arguments;
  return typeof args === "string" && args.length > 0 ? args : undefined;
}

/** What the reader must get: the items up to the crossing one, what fits of it, the ending; and whether cut. */
function expected(endpoint: "chat" | "responses", items: any[], limitChars: number) {
  const out: any[] = [];
  let chars = 0;
  for (const item of items) {
    const added = textOf(endpoint, item);
    if (added !== undefined && chars + added.length > limitChars) {
      const fit = Math.floor(limitChars) - chars;
      if (fit > 0 && endpoint === "responses") out.push({ ...item, delta: added.slice(0, fit) });
      if (fit > 0 && endpoint === "chat" && typeof item.choices[0].delta.content === "string") {
        out.push({
          ...item,
          choices: [
            { ...item.choices[0], delta: { ...item.choices[0].delta, content: added.slice(0, fit) } },
          ],
        });
      }
      return { out, cut: true };
    }
    if (added !== undefined) chars += added.length;
    out.push(item);
  }
  return { out, cut: false };
}

/** A client-like whose streams are the SDK's own `Stream` over the given items. */
function clientOf(items: unknown[]) {
  const bodies: Array<Record<string, any>> = [];
  const create = async (body: Record<string, any>) => {
    bodies.push(body);
    return new Stream(async function* () {
      for (const item of items) yield item;
    }, new AbortController());
  };
  return { bodies, client: { chat: { completions: { create } }, responses: { create } } };
}

/** Reads the whole stream: one `next()` at a time, or `batch` calls at once (served in order). */
async function readAll(stream: AsyncIterable<unknown>, batch: number): Promise<unknown[]> {
  const iterator = stream[Symbol.asyncIterator]();
  const got: unknown[] = [];
  for (;;) {
    const results = await Promise.all(Array.from({ length: batch }, () => iterator.next()));
    for (const result of results) if (!result.done) got.push(result.value);
    if (results.some((result) => result.done)) return got;
  }
}

async function run(
  endpoint: "chat" | "responses",
  items: unknown[],
  maxTokens: number,
  batch: number,
  charsPerToken: number,
) {
  const body: Record<string, unknown> =
    endpoint === "chat"
      ? {
          model: MODEL,
          messages: [{ role: "user", content: "go" }],
          max_completion_tokens: maxTokens,
          stream: true,
        }
      : { model: MODEL, input: "go", max_output_tokens: maxTokens, stream: true };
  // A task limit of the prompt's estimate plus `maxTokens`: the call's output allowance is `maxTokens`.
  const inputTokens = estimateInputTokens(endpoint, body, charsPerToken);
  const sre = new AgentSRE({ budget: { perTaskTokenLimit: inputTokens + maxTokens } });
  const cutOffs: number[] = [];
  const outcomes: Array<{ ok: boolean; outputTokens: number }> = [];
  sre.on("call.completed", (o) => outcomes.push({ ok: o.ok, outputTokens: o.outputTokens }));
  const recorder = new Recorder({ source: "openai" });
  const { client, bodies } = clientOf(items);
  const openai = guardOpenAI(client as any, sre, {
    agentId: "a",
    taskId: "t",
    charsPerToken,
    record: recorder,
    onCutOff: (event) => cutOffs.push(event.allowance),
  }) as any;
  const stream =
    endpoint === "chat" ? await openai.chat.completions.create(body) : await openai.responses.create(body);
  const got = await readAll(stream, batch);
  const sent = bodies[0] ?? {};
  expect(endpoint === "chat" ? sent.max_completion_tokens : sent.max_output_tokens).toBe(maxTokens);
  const recorded = parseTrace(recorder.endRun("a", "t")?.text ?? "").calls[0]?.response as any;
  return { got, cutOffs, outcomes, recorded: recorded?.stream as unknown[] | undefined };
}

describe("guarded stream items (per endpoint)", () => {
  for (const endpoint of ["chat", "responses"] as const) {
    it(`${endpoint}: items, cut-off, usage, errors and the record match the model, read one by one or concurrently`, async () => {
      const item: fc.Arbitrary<any> = endpoint === "chat" ? chatItem : responsesItem;
      await fc.assert(
        fc.asyncProperty(
          fc.array(item, { maxLength: 14 }),
          fc.boolean(),
          fc.integer({ min: 1, max: 6 }),
          fc.constantFrom(1, 1, 3),
          // A whole and a fractional number of characters a token: the allowance in characters is not whole.
          fc.constantFrom(CHARS_PER_TOKEN, 2.5),
          async (items, withUsage, maxTokens, batch, charsPerToken) => {
            const all = withUsage ? [...items, endpoint === "chat" ? chatUsage : responsesCompleted] : items;
            const { got, cutOffs, outcomes, recorded } = await run(
              endpoint,
              all,
              maxTokens,
              batch,
              charsPerToken,
            );
            const want = expected(endpoint, all, maxTokens * charsPerToken);
            expect(cutOffs).toEqual(want.cut ? [maxTokens] : []);
            const last = got.at(-1) as any;
            if (want.cut) {
              expect(got.slice(0, -1)).toEqual(want.out);
              if (endpoint === "chat") expect(last.choices[0].finish_reason).toBe("length");
              else expect(last.type).toBe("response.incomplete");
            } else {
              expect(got).toEqual(want.out);
            }
            // Settled once: a responses error event before the end fails the call (the record, written when the
            // call settles, ends with it); otherwise it succeeds when cut off or given usage, fails without usage.
            expect(outcomes).toHaveLength(1);
            const firstError =
              endpoint === "responses" ? got.findIndex((event: any) => event.type === "error") : -1;
            const errorSeen = firstError >= 0;
            expect(recorded).toEqual(errorSeen ? got.slice(0, firstError + 1) : got);
            const ok = !errorSeen && (want.cut || withUsage);
            expect(outcomes[0]?.ok).toBe(ok);
            if (withUsage && !want.cut && !errorSeen) expect(outcomes[0]?.outputTokens).toBe(7);
          },
        ),
        { numRuns: 120 },
      );
    });
  }

  for (const endpoint of ["chat", "responses"] as const) {
    it(`${endpoint}: a source resolving with something other than an iterator result fails the call`, async () => {
      const sre = new AgentSRE();
      const outcomes: boolean[] = [];
      sre.on("call.completed", (o) => outcomes.push(o.ok));
      const source = {
        next: () => Promise.resolve(undefined),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      const create = async () => source;
      const client = { chat: { completions: { create } }, responses: { create } };
      const openai = guardOpenAI(client as any, sre, { agentId: "a" }) as any;
      const stream =
        endpoint === "chat"
          ? await openai.chat.completions.create({ model: MODEL, messages: [], stream: true })
          : await openai.responses.create({ model: MODEL, input: "go", stream: true });
      await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(TypeError);
      expect(outcomes).toEqual([false]);
    });
  }

  it("reads the source iterator's next once, as for await does (a replaced next is not followed)", async () => {
    const sre = new AgentSRE();
    let calls = 0;
    const items = [chatChunk({ content: "a" }), chatChunk({ content: "b" }), chatUsage];
    const source = {
      i: 0,
      next(): Promise<IteratorResult<unknown>> {
        calls++;
        // After its first call the object's own `next` is another function: the guard keeps calling this one.
        (this as any).next = () => Promise.reject(new Error("a next read again"));
        return Promise.resolve(
          this.i < items.length ? { done: false, value: items[this.i++] } : { done: true, value: undefined },
        );
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const client = { chat: { completions: { create: async () => source } } };
    const openai = guardOpenAI(client as any, sre, { agentId: "a" }) as any;
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [], stream: true });
    const got: unknown[] = [];
    for await (const chunk of stream) got.push(chunk);
    expect(got).toEqual(items);
    expect(calls).toBe(items.length + 1);
  });

  it("an async generator source is read through its own next: one replaced on the generator is the one called", async () => {
    // The guard calls the async generators' shared `next` directly when the source's is that one, and otherwise
    // what the source's `next` was (here a wrapper set on the generator object itself), for every read.
    const items = [chatChunk({ content: "a" }), chatChunk({ refusal: "b" }), chatUsage];
    let calls = 0;
    const instrumented = () => {
      const generator = (async function* () {
        for (const item of items) yield item;
      })();
      const next = generator.next;
      generator.next = function (this: typeof generator) {
        calls++;
        return next.call(this);
      };
      return generator;
    };
    const plain = async function* () {
      for (const item of items) yield item;
    };
    for (const [iterator, expectedCalls] of [
      [instrumented, items.length + 1],
      [plain, 0],
    ] as const) {
      calls = 0;
      const sre = new AgentSRE();
      const outcomes: boolean[] = [];
      sre.on("call.completed", (o) => outcomes.push(o.ok));
      const create = async () => new Stream(iterator, new AbortController());
      const openai = guardOpenAI({ chat: { completions: { create } } } as any, sre, { agentId: "a" }) as any;
      const stream = await openai.chat.completions.create({ model: MODEL, messages: [], stream: true });
      const got: unknown[] = [];
      for await (const chunk of stream) got.push(chunk);
      expect(got).toEqual(items);
      expect(calls).toBe(expectedCalls);
      expect(outcomes).toEqual([true]);
      expect(sre.budget.agentStatus("a").tokensToday).toBe(37);
    }
  });

  it("next() calls made while a read is in flight are served in the order they were made", async () => {
    const items = ["a", "b", "c", "d"].map((content) => chatChunk({ content }));
    const { client } = clientOf([...items, chatUsage]);
    const openai = guardOpenAI(client as any, new AgentSRE(), { agentId: "a" }) as any;
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const contentOf = async (read: Promise<IteratorResult<any>>) =>
      (await read).value?.choices[0].delta.content;
    const a = iterator.next();
    const b = iterator.next();
    const c = iterator.next();
    await a;
    // By now b's read is in flight and c waits behind it: d, made after c, waits behind c.
    const d = iterator.next();
    expect(await Promise.all([a, b, c, d].map(contentOf))).toEqual(["a", "b", "c", "d"]);
  });

  it("a reader that breaks off with a read in flight: that read and the next() calls behind it end, the call is cancelled once", async () => {
    const sre = new AgentSRE();
    const judged: boolean[] = [];
    sre.on("call.completed", (o) => judged.push(o.ok));
    let deliver: (result: IteratorResult<unknown>) => void = () => {};
    let reads = 0;
    const source = {
      next: () => {
        reads++;
        return new Promise<IteratorResult<unknown>>((resolve) => {
          deliver = resolve;
        });
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const client = { chat: { completions: { create: async () => source } } };
    const openai = guardOpenAI(client as any, sre, { agentId: "a" }) as any;
    const body = { model: MODEL, messages: [], stream: true };
    const stream = await openai.chat.completions.create(body);
    const iterator = stream[Symbol.asyncIterator]();
    const first = iterator.next();
    const queued = iterator.next();
    await iterator.return();
    const after = iterator.next();
    deliver({ done: false, value: chatChunk({ content: "late" }) });
    expect(await Promise.all([first, queued, after])).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
    expect(reads).toBe(1);
    // A cancellation: not judged, charged the prompt's estimate (the late chunk was not delivered), not reserved.
    expect(judged).toEqual([]);
    const status = sre.budget.agentStatus("a");
    expect(status.tokensToday).toBe(estimateInputTokens("chat", body, CHARS_PER_TOKEN));
    expect(status.reservedTodayUsd).toBe(0);
  });

  it("a source read that fails: the reader gets the error, the next() calls behind it end, the call fails once", async () => {
    const sre = new AgentSRE();
    const outcomes: boolean[] = [];
    sre.on("call.completed", (o) => outcomes.push(o.ok));
    const boom = new Error("connection reset");
    let reads = 0;
    const source = {
      next: () =>
        ++reads === 1
          ? Promise.resolve({ done: false, value: chatChunk({ content: "a" }) })
          : Promise.reject(boom),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const client = { chat: { completions: { create: async () => source } } };
    const openai = guardOpenAI(client as any, sre, { agentId: "a" }) as any;
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const reads3 = [iterator.next(), iterator.next(), iterator.next()];
    const settled = await Promise.allSettled(reads3);
    expect(settled[0]).toEqual({
      status: "fulfilled",
      value: { done: false, value: chatChunk({ content: "a" }) },
    });
    expect(settled[1]).toEqual({ status: "rejected", reason: boom });
    expect(settled[2]).toEqual({ status: "fulfilled", value: { done: true, value: undefined } });
    expect(reads).toBe(2);
    expect(outcomes).toEqual([false]);
  });
});
