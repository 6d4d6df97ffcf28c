// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of `openai` and of the AI SDK
/**
 * Breakers attribute failures, end to end through the real `openai` client and the real `@ai-sdk/openai`
 * provider against the local fake OpenAI server: one agent's bad requests (HTTP 400) count against that
 * agent's breaker only, so another agent keeps using the model; a failing model (HTTP 503) opens the
 * shared `model:<name>` breaker for every agent.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { AgentSRE, CircuitOpenError } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import { describe, expect, it } from "vitest";
import { startFakeOpenAI, useFakeOpenAI } from "./fake-openai-server.js";
import type { OpenAIStackUnderTest } from "./suite.js";

const MODEL = "gpt-4o-mini";
const FAILURES = 3;

export function attributionSuite(stack: OpenAIStackUnderTest): void {
  const { OpenAI, createOpenAI, generateText, streamText, wrapLanguageModel } = stack;
  const server = useFakeOpenAI();

  const engine = () =>
    new AgentSRE({ breakers: { defaults: { failureThreshold: FAILURES, recoveryTimeoutMs: "1h" } } });
  const ok = { text: "Hello!", usage: { input: 10, output: 3 } };
  /** `n` failures with `status`, then successes. */
  const failThenOk = (status: number, n: number) =>
    server().reply(...Array.from({ length: n }, () => ({ status })), ok);

  type Ask = (sre: AgentSRE, agentId: string) => Promise<unknown>;
  const clients: Array<[string, Ask]> = [
    [
      "guardOpenAI chat.completions",
      (sre, agentId) =>
        guardOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 }), sre, {
          agentId,
        }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hello" }] }),
    ],
    [
      "guardOpenAI responses (streamed)",
      async (sre, agentId) => {
        const openai = guardOpenAI(
          new OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 }),
          sre,
          {
            agentId,
          },
        );
        for await (const _ of await openai.responses.create({ model: MODEL, input: "Hello", stream: true })) {
          // drain
        }
      },
    ],
    [
      "AI SDK generateText",
      (sre, agentId) =>
        generateText({
          model: wrapLanguageModel({
            model: createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL }).chat(MODEL),
            middleware: agentSREMiddleware(sre, { agentId }),
          }),
          prompt: "Hello",
          maxRetries: 0,
        }),
    ],
    [
      "AI SDK streamText",
      async (sre, agentId) => {
        let failure: unknown;
        const result = streamText({
          model: wrapLanguageModel({
            model: createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL }).responses(MODEL),
            middleware: agentSREMiddleware(sre, { agentId }),
          }),
          prompt: "Hello",
          maxRetries: 0,
          // streamText reports a failed stream here (its promises reject with NoOutputGeneratedError).
          onError: ({ error }: { error: unknown }) => {
            failure = error;
          },
        });
        await result.consumeStream();
        if (failure !== undefined) throw failure;
      },
    ],
  ];

  describe(`${stack.label}: breakers attribute failures`, () => {
    for (const [label, ask] of clients) {
      it(`${label}: one agent's 400s open its own breaker, not the model's; another agent keeps the model`, async () => {
        const sre = engine();
        failThenOk(400, FAILURES + 1);
        for (let i = 0; i < FAILURES; i++) await expect(ask(sre, "sloppy")).rejects.toThrow();
        expect(sre.breakers.get(`model:${MODEL}`).state).toBe("CLOSED");
        expect(sre.breakers.get("agent:sloppy").state).toBe("OPEN");
        // The sloppy agent is stopped before its request is sent; the careful one still reaches the model.
        const sent = server().requests.length;
        await expect(ask(sre, "sloppy")).rejects.toThrow();
        expect(server().requests.length).toBe(sent);
        server().reply(ok);
        await ask(sre, "careful");
        expect(server().requests.length).toBe(sent + 1);
        expect(sre.breakers.get(`model:${MODEL}`).state).toBe("CLOSED");
      });

      it(`${label}: a model answering 503 opens the shared model breaker for every agent`, async () => {
        const sre = engine();
        failThenOk(503, FAILURES);
        for (let i = 0; i < FAILURES; i++) await expect(ask(sre, "first")).rejects.toThrow();
        expect(sre.breakers.get(`model:${MODEL}`).state).toBe("OPEN");
        expect(sre.breakers.get("agent:first").state).toBe("CLOSED");
        const sent = server().requests.length;
        const refused = await ask(sre, "second").then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(server().requests.length).toBe(sent);
        expect(refusalIn(refused)).toBeInstanceOf(CircuitOpenError);
      });
    }

    it("429 (rate limited) is the provider's; 401 and 404 are the caller's", async () => {
      const [, ask] = clients[0] as [string, Ask];
      const sre = engine();
      failThenOk(429, FAILURES);
      for (let i = 0; i < FAILURES; i++) await expect(ask(sre, "a")).rejects.toThrow();
      expect(sre.breakers.get(`model:${MODEL}`).state).toBe("OPEN");

      const other = engine();
      server().reply({ status: 401 }, { status: 404 }, { status: 401 }, ok);
      for (let i = 0; i < FAILURES; i++) await expect(ask(other, "b")).rejects.toThrow();
      expect(other.breakers.get(`model:${MODEL}`).state).toBe("CLOSED");
      expect(other.breakers.get("agent:b").state).toBe("OPEN");
    });

    it("a connection refused is the provider's", async () => {
      const sre = engine();
      const dead = await startFakeOpenAI();
      const baseURL = dead.baseURL;
      await dead.close();
      const openai = guardOpenAI(new OpenAI({ apiKey: "sk-test", baseURL, maxRetries: 0 }), sre, {
        agentId: "a",
      });
      for (let i = 0; i < FAILURES; i++) {
        await expect(
          openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hi" }] }),
        ).rejects.toThrow();
      }
      expect(sre.breakers.get(`model:${MODEL}`).state).toBe("OPEN");
      const generate = () =>
        generateText({
          model: wrapLanguageModel({
            model: createOpenAI({ apiKey: "sk-test", baseURL }).chat("gpt-4.1"),
            middleware: agentSREMiddleware(sre, { agentId: "b" }),
          }),
          prompt: "Hello",
          maxRetries: 0,
        });
      for (let i = 0; i < FAILURES; i++) await expect(generate()).rejects.toThrow();
      expect(sre.breakers.get("model:gpt-4.1").state).toBe("OPEN");
      expect(sre.breakers.get("agent:b").state).toBe("CLOSED");
    });
  });
}

/** The engine's refusal, as thrown or as the `cause` of the SDK error it was turned into. */
function refusalIn(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    if (current instanceof CircuitOpenError) return current;
    current =
      (current as { cause?: unknown; lastError?: unknown }).lastError ??
      (current as { cause?: unknown }).cause;
  }
  return error;
}
