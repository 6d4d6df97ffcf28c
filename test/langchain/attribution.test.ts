// Breakers attribute failures through the real ChatOpenAI integration (@langchain/openai) against the local
// fake OpenAI server, in createAgent (middleware) and in a plain chain (callback handler): one agent's bad
// requests (400, 401: LangChain stamps MODEL_AUTHENTICATION) count against its own breaker only; 503s and
// 429s (MODEL_RATE_LIMIT) open the shared model breaker for every agent. No network.
import { AgentSRE, CircuitOpenError } from "@agent-sre/core";
import { AgentSRECallbackHandler, agentSREMiddleware, refusalFrom } from "@agent-sre/langchain";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { useFakeOpenAI } from "../openai/fake-openai-server.js";

const MODEL = "gpt-4o-mini";
const FAILURES = 3;
const server = useFakeOpenAI();

const ok = { text: "Hello!", usage: { input: 10, output: 3 } };
const engine = () =>
  new AgentSRE({ breakers: { defaults: { failureThreshold: FAILURES, recoveryTimeoutMs: "1h" } } });
const chatModel = () =>
  new ChatOpenAI({
    model: MODEL,
    apiKey: "sk-test",
    maxRetries: 0,
    configuration: { baseURL: server().baseURL },
  });

type Ask = (sre: AgentSRE, agentId: string) => Promise<unknown>;
const paths: Array<[string, Ask]> = [
  [
    "createAgent + agentSREMiddleware",
    (sre, agentId) =>
      createAgent({
        model: chatModel(),
        tools: [],
        middleware: [agentSREMiddleware(sre, { agentId })],
      }).invoke({
        messages: [{ role: "user", content: "Hello" }],
      }),
  ],
  [
    "a chain with AgentSRECallbackHandler (enforce)",
    (sre, agentId) =>
      chatModel().invoke("Hello", {
        callbacks: [new AgentSRECallbackHandler(sre, { agentId, enforce: true })],
      }),
  ],
];

describe("ChatOpenAI: breakers attribute failures", () => {
  for (const [label, ask] of paths) {
    it(`${label}: one agent's 400s and 401s open its own breaker, not the model's`, async () => {
      const sre = engine();
      server().reply({ status: 400 }, { status: 401 }, { status: 400 }, ok);
      for (let i = 0; i < FAILURES; i++) await expect(ask(sre, "sloppy")).rejects.toThrow();
      expect(sre.breakers.get(`model:${MODEL}`).state).toBe("CLOSED");
      expect(sre.breakers.get("agent:sloppy").state).toBe("OPEN");
      const sent = server().requests.length;
      await ask(sre, "careful");
      expect(server().requests.length).toBe(sent + 1);
    });

    it(`${label}: 503s and 429s open the shared model breaker for every agent`, async () => {
      const sre = engine();
      server().reply({ status: 503 }, { status: 429 }, { status: 503 }, ok);
      for (let i = 0; i < FAILURES; i++) await expect(ask(sre, "first")).rejects.toThrow();
      expect(sre.breakers.get(`model:${MODEL}`).state).toBe("OPEN");
      expect(sre.breakers.get("agent:first").state).toBe("CLOSED");
      const sent = server().requests.length;
      const refused = await ask(sre, "second").then(
        () => undefined,
        (error: unknown) => error,
      );
      // createAgent wraps a middleware's error (MiddlewareError, with the refusal as its cause).
      expect(refusalFrom(refused)).toBeInstanceOf(CircuitOpenError);
      expect(server().requests.length).toBe(sent);
    });
  }
});
