import { type AgentRef, AgentSRE, ManualClock, type RefusalError, TimeoutError } from "@agent-sre/core";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { GuardedAPIPromise } from "./api-promise.js";
import { estimateInputTokens, guardOpenAI } from "./index.js";

const MODEL = "gpt-4.1";
const encoder = new TextEncoder();

function sse(
  events: unknown[],
  options: { done?: boolean; failAfter?: boolean } = {},
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < events.length) {
        const event = events[i++] as { type?: string };
        const name = event.type === undefined ? "" : `event: ${event.type}\n`;
        controller.enqueue(encoder.encode(`${name}data: ${JSON.stringify(event)}\n\n`));
        return;
      }
      if (options.failAfter) controller.error(new Error("connection reset"));
      else {
        if (options.done) controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      }
    },
  });
}

/** An OpenAI client whose transport is a function: the real SDK, no network. */
function clientWith(respond: (body: Record<string, unknown>) => Response): {
  client: OpenAI;
  bodies: Array<Record<string, unknown>>;
} {
  const bodies: Array<Record<string, unknown>> = [];
  const client = new OpenAI({
    apiKey: "sk-test",
    baseURL: "http://fake.invalid/v1",
    maxRetries: 0,
    fetch: async (_url: unknown, init?: { body?: unknown }) => {
      const body = JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>;
      bodies.push(body);
      return respond(body);
    },
  });
  return { client, bodies };
}

const json = (value: unknown) =>
  new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });
const chunk = (content: string) => ({
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: MODEL,
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});
const completion = (text: string, input: number, output: number) => ({
  id: "c",
  object: "chat.completion",
  created: 1,
  model: MODEL,
  choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
  usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
});

describe("guardOpenAI", () => {
  it("create() returns an APIPromise-like: await, withResponse(), asResponse() (usage read from a copy)", async () => {
    const sre = new AgentSRE();
    const seen: number[] = [];
    sre.on("call.completed", (e) => seen.push(e.inputTokens));
    const { client } = clientWith(() => json(completion("hi", 11, 2)));
    const openai = guardOpenAI(client, sre, { agentId: "a" });
    const promise = openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
    });
    expect(promise).toBeInstanceOf(GuardedAPIPromise);
    expect((await promise).choices[0]?.message.content).toBe("hi");
    const raw = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "x" }] })
      .asResponse();
    expect(((await raw.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBe(11);
    expect(seen).toEqual([11, 11]);
  });

  it("withOptions() on a guarded client gives a guarded client", async () => {
    const sre = new AgentSRE();
    let calls = 0;
    sre.on("call.completed", () => calls++);
    const { client } = clientWith(() => json(completion("hi", 1, 1)));
    const derived = guardOpenAI(client, sre, { agentId: "a" }).withOptions({ timeout: 1_000 });
    await derived.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] });
    expect(calls).toBe(1);
  });

  it("binds its agent once: every call, of both endpoints and of derived clients, carries the one ref", async () => {
    const sre = new AgentSRE();
    const refs: Array<AgentRef | undefined> = [];
    sre.use({ start: (call) => refs.push(call.agentRef) });
    const { client } = clientWith((body) =>
      json(body.input === undefined ? completion("hi", 1, 1) : { id: "r", object: "response", output: [] }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a" });
    const messages = [{ role: "user" as const, content: "x" }];
    await openai.chat.completions.create({ model: MODEL, messages });
    await openai.responses.create({ model: MODEL, input: "x" });
    await openai.withOptions({ timeout: 1_000 }).chat.completions.create({ model: MODEL, messages });
    expect(refs).toHaveLength(3);
    expect(refs[0]?.agentId).toBe("a");
    expect(new Set(refs).size).toBe(1);
    expect(sre.status().agents.a?.calls).toBe(3);
  });

  it("a reader that breaks off a stream is cancelled: charged what it read, the model neither failed nor succeeded", async () => {
    const sre = new AgentSRE({
      budget: { perTaskLimitUsd: 1 },
      breakers: { defaults: { failureThreshold: 3 } },
    });
    const completed: Array<{ ok: boolean; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    let requests = 0;
    const { client } = clientWith(() =>
      ++requests === 1
        ? new Response(JSON.stringify({ error: { message: "boom", type: "server_error" } }), {
            status: 500,
            headers: { "content-type": "application/json" },
          })
        : new Response(sse([chunk("abcd"), chunk("efgh"), chunk("ijkl")], { done: true }), {
            headers: { "content-type": "text/event-stream" },
          }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a", taskId: "t" });
    const body = { model: MODEL, messages: [{ role: "user" as const, content: "x" }] };
    await expect(openai.chat.completions.create(body)).rejects.toThrow(OpenAI.InternalServerError);
    const breaker = sre.breakers.get(`model:${MODEL}`);
    expect(breaker.failureCount).toBe(1);

    const stream = await openai.chat.completions.create({ ...body, stream: true });
    for await (const _ of stream) break;

    // A success would have reset the consecutive failures, a failure added one: neither happened.
    expect(breaker.failureCount).toBe(1);
    expect(completed.map((e) => e.ok)).toEqual([false]);
    const status = sre.budget.agentStatus("a");
    expect(status.reservedTodayUsd).toBe(0);
    expect(status.tokensToday).toBe(estimateInputTokens("chat", { ...body, stream: true }, 4) + 1);
  });

  it("a teed stream (two readers pulling at once) passes every chunk to both in order and settles once", async () => {
    const sre = new AgentSRE();
    const completed: Array<{ ok: boolean; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    const final = {
      ...chunk(""),
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    };
    const { client } = clientWith(
      () =>
        new Response(sse([chunk("abcd"), chunk("efgh"), final], { done: true }), {
          headers: { "content-type": "text/event-stream" },
        }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a" });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const [left, right] = stream.tee();
    const read = async (half: typeof left) => {
      const texts: string[] = [];
      for await (const c of half) texts.push(c.choices[0]?.delta?.content ?? "usage");
      return texts;
    };
    const both = await Promise.all([read(left), read(right)]);
    expect(both).toEqual([
      ["abcd", "efgh", "usage"],
      ["abcd", "efgh", "usage"],
    ]);
    expect(completed.map((e) => [e.ok, e.outputTokens])).toEqual([[true, 3]]);
  });

  it("a stalled stream times out at the call's deadline: the request is aborted, reading throws a 408 APIError", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock, timeouts: { modelMs: 1_000 } });
    const completed: Array<{ ok: boolean; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    let requestSignal: AbortSignal | undefined;
    const client = new OpenAI({
      apiKey: "sk-test",
      baseURL: "http://fake.invalid/v1",
      maxRetries: 0,
      fetch: async (_url: unknown, init?: { signal?: AbortSignal | null }) => {
        const signal = init?.signal ?? undefined;
        requestSignal = signal;
        let sent = 0;
        // Two chunks, then the server stalls; like a real fetch, the body errors when the request aborts.
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent < 2) {
              controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk("abcd"))}\n\n`));
              sent++;
              return;
            }
            return new Promise<void>((resolve) => {
              signal?.addEventListener("abort", () => {
                controller.error(new DOMException("This operation was aborted", "AbortError"));
                resolve();
              });
            });
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const openai = guardOpenAI(client, sre, { agentId: "a" });
    const body = { model: MODEL, messages: [{ role: "user" as const, content: "x" }], stream: true as const };
    const stream = await openai.chat.completions.create(body);
    let text = "";
    const consumed = (async () => {
      for await (const item of stream) text += item.choices[0]?.delta?.content ?? "";
    })().catch((e: unknown) => e);
    while (text.length < 8) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(completed).toEqual([]);

    clock.advance(1_100);
    const error = (await consumed) as InstanceType<typeof OpenAI.APIError>;

    expect(requestSignal?.aborted).toBe(true);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(408);
    expect(error.cause).toBeInstanceOf(TimeoutError);
    expect(text).toBe("abcdabcd");
    expect(completed).toEqual([expect.objectContaining({ ok: false, outputTokens: 2 })]);
    expect(sre.breakers.get(`model:${MODEL}`).failureCount).toBe(1);
    expect(sre.budget.agentStatus("a").tokensToday).toBe(estimateInputTokens("chat", body, 4) + 2);
  });

  it("a stream request that gets no response before the deadline is aborted and rejects with a 408 APIError", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    let requestSignal: AbortSignal | undefined;
    const client = new OpenAI({
      apiKey: "sk-test",
      baseURL: "http://fake.invalid/v1",
      maxRetries: 0,
      // Like fetch: no response yet, and the request rejects when its signal aborts.
      fetch: (_url: unknown, init?: { signal?: AbortSignal | null }) => {
        const signal = init?.signal ?? undefined;
        requestSignal = signal;
        return new Promise<Response>((_resolve, reject) => {
          signal?.addEventListener("abort", () =>
            reject(new DOMException("This operation was aborted", "AbortError")),
          );
        });
      },
    });
    const openai = guardOpenAI(client, sre, { agentId: "a", timeoutMs: 5_000 });
    const pending = openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "x" }], stream: true })
      .catch((e: unknown) => e);
    while (requestSignal === undefined) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    clock.advance(5_100);
    const error = (await pending) as InstanceType<typeof OpenAI.APIError>;
    expect(requestSignal.aborted).toBe(true);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(408);
    expect(sre.breakers.get(`model:${MODEL}`).failureCount).toBe(1);
  });

  it("minOutputTokens: a call the budget cannot fully reserve goes out with a lower max, with no refusal", async () => {
    const { client, bodies } = clientWith(() => json(completion("ok", 10, 2)));
    // $0.004 left: ~500 output tokens of gpt-4.1, not the 4,096 reserved by default, more than 64.
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 0.004 } });
    const refused: string[] = [];
    sre.on("call.refused", (e) => refused.push(e.code));
    const body = { model: MODEL, messages: [{ role: "user" as const, content: "x" }] };
    await guardOpenAI(client, sre, { agentId: "a", taskId: "t1" }).chat.completions.create(body);
    expect(refused).toEqual([]);
    const max = bodies[0]?.max_completion_tokens as number;
    expect(max).toBeGreaterThan(64);
    expect(max).toBeLessThanOrEqual(500);

    // Fewer than minOutputTokens left: refused once, before any request.
    const poor = new AgentSRE({ budget: { perTaskLimitUsd: 0.0004 } });
    poor.on("call.refused", (e) => refused.push(e.code));
    const error = (await guardOpenAI(client, poor, { agentId: "a", taskId: "t2" })
      .chat.completions.create(body)
      .catch((e: unknown) => e)) as RefusalError;
    expect(error.code).toBe("BUDGET_EXCEEDED");
    expect(refused).toEqual(["BUDGET_EXCEEDED"]);
    expect(bodies).toHaveLength(1);
  });

  it("a stream that breaks mid-way fails the call (breaker) and charges the output seen", async () => {
    const sre = new AgentSRE();
    const completed: Array<{ ok: boolean; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    const { client } = clientWith(
      () =>
        new Response(sse([chunk("abcdefgh")], { failAfter: true }), {
          headers: { "content-type": "text/event-stream" },
        }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a" });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const error = await (async () => {
      for await (const _ of stream) {
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(completed).toEqual([expect.objectContaining({ ok: false, outputTokens: 2 })]);
    expect(sre.breakers.get(`model:${MODEL}`).snapshot().failureCount).toBe(1);
  });

  it("responses streams are cut off at the budget with a response.incomplete event", async () => {
    const sre = new AgentSRE({ budget: { perTaskTokenLimit: 200 } });
    const events = [
      { type: "response.created", sequence_number: 0, response: { id: "r", status: "in_progress" } },
      ...Array.from({ length: 400 }, (_, i) => ({
        type: "response.output_text.delta",
        sequence_number: i + 1,
        item_id: "m",
        output_index: 0,
        content_index: 0,
        delta: "word ",
      })),
    ];
    const { client, bodies } = clientWith(
      () => new Response(sse(events), { headers: { "content-type": "text/event-stream" } }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a", taskId: "t", defaultMaxOutputTokens: 100 });
    const stream = await openai.responses.create({ model: MODEL, input: "go", stream: true });
    let text = "";
    let last: { type: string; response?: { incomplete_details?: { reason: string } } } | undefined;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
      last = event as never;
    }
    expect(last?.type).toBe("response.incomplete");
    expect(last?.response?.incomplete_details?.reason).toBe("max_output_tokens");
    const allowance = bodies[0]?.max_output_tokens as number;
    expect(text.length).toBe(allowance * 4);
    expect(sre.budget.agentStatus("a").tokensToday).toBeLessThanOrEqual(200);
  });

  it("works on a client without withOptions, leaving the original untouched", async () => {
    const sre = new AgentSRE();
    const usages: number[] = [];
    sre.on("call.completed", (e) => usages.push(e.outputTokens));
    const original = {
      chat: {
        completions: {
          create: async (body: { model: string }) => ({ ...completion("x", 3, 4), model: body.model }),
        },
      },
    };
    const guarded = guardOpenAI(original, sre, { agentId: "a" });
    expect((await guarded.chat.completions.create({ model: MODEL })).model).toBe(MODEL);
    await original.chat.completions.create({ model: MODEL });
    expect(usages).toEqual([4]);
  });

  it("rejects a missing agent id", () => {
    expect(() => guardOpenAI({}, new AgentSRE(), { agentId: "" })).toThrow(/agentId/);
  });
});
