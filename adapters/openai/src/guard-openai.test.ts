import { AgentSRE } from "@agent-sre/core";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { GuardedAPIPromise } from "./api-promise.js";
import { guardOpenAI } from "./index.js";

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

  it("a reader that breaks off a stream is charged what it read, not counted as a failure", async () => {
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
    const completed: Array<{ ok: boolean; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    const { client } = clientWith(
      () =>
        new Response(sse([chunk("abcd"), chunk("efgh"), chunk("ijkl")], { done: true }), {
          headers: { "content-type": "text/event-stream" },
        }),
    );
    const openai = guardOpenAI(client, sre, { agentId: "a", taskId: "t" });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    for await (const _ of stream) break;
    expect(completed).toEqual([expect.objectContaining({ ok: true, outputTokens: 1 })]);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
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
