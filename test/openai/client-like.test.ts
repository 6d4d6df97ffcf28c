// biome-ignore-all lint/suspicious/noExplicitAny: chunks of a client-like are read structurally
// A structural client-like (no `withOptions`, no SDK `Stream` class: streams are plain async iterables), as
// the README says guardOpenAI supports: streaming is guarded, usage is recorded once and every reservation
// is settled — at the end, on a break-off, on an error.
import { AgentSRE } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import { describe, expect, it } from "vitest";

const MODEL = "gpt-4.1";

type Body = Record<string, unknown>;

function chatChunks(text: string[], usage: { prompt_tokens: number; completion_tokens: number }) {
  const chunk = (delta: unknown, finish: string | null = null) => ({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: MODEL,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return [
    ...text.map((content) => chunk({ content })),
    chunk({}, "stop"),
    { id: "c", object: "chat.completion.chunk", created: 1, model: MODEL, choices: [], usage },
  ];
}

/** An OpenAI-compatible client of your own: `create` answers a stream as an async generator. */
function clientLike(options: { failAfter?: number } = {}) {
  const bodies: Body[] = [];
  let finished = 0;
  const stream = async function* (items: unknown[]) {
    try {
      let i = 0;
      for (const item of items) {
        if (options.failAfter !== undefined && i++ === options.failAfter) throw new Error("connection reset");
        yield item;
      }
    } finally {
      finished++;
    }
  };
  return {
    bodies,
    finished: () => finished,
    chat: {
      completions: {
        create: async (body: Body) => {
          bodies.push(body);
          if (body.stream === true) {
            return stream(chatChunks(["Hel", "lo", "!"], { prompt_tokens: 40, completion_tokens: 8 }));
          }
          return {
            id: "c",
            object: "chat.completion",
            model: MODEL,
            choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 },
          };
        },
      },
    },
    responses: {
      create: (body: Body) => {
        bodies.push(body);
        // Not even a promise: the iterable itself.
        return stream([
          { type: "response.output_text.delta", delta: "Hi" },
          {
            type: "response.completed",
            response: { usage: { input_tokens: 30, output_tokens: 2, total_tokens: 32 } },
          },
        ]);
      },
    },
  };
}

function ledger(sre: AgentSRE) {
  const completed: Array<{ ok: boolean; inputTokens: number; outputTokens: number }> = [];
  sre.on("call.completed", (e) =>
    completed.push({ ok: e.ok, inputTokens: e.inputTokens, outputTokens: e.outputTokens }),
  );
  return {
    completed,
    reserved: () => sre.budget.agentStatus("a").reservedTodayUsd,
    spent: () => sre.budget.agentStatus("a").spentTodayUsd,
  };
}

const priced = (sre: AgentSRE, inputTokens: number, outputTokens: number) =>
  (sre.prices.costMicros(MODEL, { inputTokens, outputTokens }, "openai") ?? Number.NaN) / 1e6;

describe("guardOpenAI with a client-like object", () => {
  it("a chat stream (an async generator) is guarded: chunks pass through, usage is recorded once, nothing stays reserved", async () => {
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
    const books = ledger(sre);
    const raw = clientLike();
    const openai = guardOpenAI(raw, sre, { agentId: "a", taskId: "t" });
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [], stream: true });
    let text = "";
    for await (const chunk of stream as AsyncIterable<any>) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("Hello!");
    expect(books.completed).toEqual([{ ok: true, inputTokens: 40, outputTokens: 8 }]);
    expect(books.spent()).toBeCloseTo(priced(sre, 40, 8), 12);
    expect(books.reserved()).toBe(0);
    expect(raw.bodies[0]?.stream_options).toEqual({ include_usage: true });
  });

  it("a responses stream returned without a promise is guarded too", async () => {
    const sre = new AgentSRE();
    const books = ledger(sre);
    const openai = guardOpenAI(clientLike(), sre, { agentId: "a" });
    const events: string[] = [];
    for await (const event of (await openai.responses.create({
      model: MODEL,
      input: "hi",
      stream: true,
    })) as any) {
      events.push(event.type);
    }
    expect(events).toEqual(["response.output_text.delta", "response.completed"]);
    expect(books.completed).toEqual([{ ok: true, inputTokens: 30, outputTokens: 2 }]);
    expect(books.reserved()).toBe(0);
  });

  it("a reader that breaks off, and a stream that errors, settle the reservation", async () => {
    const sre = new AgentSRE();
    const books = ledger(sre);
    const raw = clientLike();
    const openai = guardOpenAI(raw, sre, { agentId: "a" });
    for await (const _ of (await openai.chat.completions.create({
      model: MODEL,
      messages: [],
      stream: true,
    })) as any) {
      break;
    }
    expect(raw.finished()).toBe(1); // the source generator was closed
    expect(books.reserved()).toBe(0);
    // A cancellation: charged what it used (the prompt estimate and the chunk read), not judged.
    expect(books.spent()).toBeGreaterThan(0);
    expect(books.completed).toHaveLength(0);

    const failing = guardOpenAI(clientLike({ failAfter: 1 }), sre, { agentId: "a" });
    const stream = await failing.chat.completions.create({ model: MODEL, messages: [], stream: true });
    const error = await (async () => {
      for await (const _ of stream as any) {
        // read until it fails
      }
    })().catch((e: unknown) => e);
    expect((error as Error).message).toBe("connection reset");
    expect(books.completed.at(-1)?.ok).toBe(false);
    expect(books.reserved()).toBe(0);
  });

  it("a plain create is priced from its usage once", async () => {
    const sre = new AgentSRE();
    const books = ledger(sre);
    const openai = guardOpenAI(clientLike(), sre, { agentId: "a" });
    const reply: any = await openai.chat.completions.create({ model: MODEL, messages: [] });
    expect(reply.choices[0]?.message.content).toBe("Hello!");
    expect(books.completed).toEqual([{ ok: true, inputTokens: 40, outputTokens: 8 }]);
    expect(books.reserved()).toBe(0);
  });
});
