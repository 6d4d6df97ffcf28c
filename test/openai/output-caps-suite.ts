// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of `openai` and of the AI SDK
/**
 * The output-cap rule end to end, through the real `openai` client and the real `@ai-sdk/openai` provider
 * against the local fake OpenAI server, which — like the real API — answers a cap above the model's
 * maximum output with HTTP 400. A cap is sent only when the budget binds, and then never above the model's
 * maximum; a budget that does not bind leaves the request as the caller wrote it.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { AgentSRE, UNKNOWN_MODEL_OUTPUT_CAP_TOKENS } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import { beforeEach, describe, expect, it } from "vitest";
import { FAKE_MAX_OUTPUT_TOKENS, useFakeOpenAI } from "./fake-openai-server.js";
import type { OpenAIStackUnderTest } from "./suite.js";

const CAP_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;

export function outputCapsSuite(stack: OpenAIStackUnderTest): void {
  const { OpenAI, createOpenAI, generateText, streamText, wrapLanguageModel } = stack;
  const server = useFakeOpenAI();
  beforeEach(() => {
    server().reply({ text: "Hello!", usage: { input: 10, output: 3 } });
  });

  const client = () => new OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 });
  const sentCap = (index = 0): number | undefined => {
    const body = server().requests[index]?.body ?? {};
    const values = CAP_FIELDS.map((field) => body[field]).filter((v) => v !== undefined);
    expect(values.length).toBeLessThanOrEqual(1);
    return values[0] as number | undefined;
  };

  // Budgets that do not bind: what they could pay for is far above the model's maximum output (the old
  // adapters sent 62,486–3,333,332 here, which a real provider refuses).
  const roomy = () => new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
  // A budget that binds: $0.01 buys ~1,200 output tokens of gpt-4.1, $0.002 ~3,300 of gpt-4o-mini (the
  // reservation shrinks to fit).
  const tight = (model = "gpt-4.1") =>
    new AgentSRE({ budget: { perTaskLimitUsd: model === "gpt-4.1" ? 0.01 : 0.002 } });

  describe(`${stack.label}: output caps a real provider accepts`, () => {
    for (const model of ["gpt-4.1", "gpt-4o-mini"]) {
      const most = FAKE_MAX_OUTPUT_TOKENS[model] as number;

      it(`guardOpenAI ${model}: chat and responses, plain and streamed, go out untouched when the budget does not bind`, async () => {
        const openai = guardOpenAI(client(), roomy(), { agentId: "a", taskId: "t" });
        const messages = [{ role: "user", content: "Hello" }];
        await openai.chat.completions.create({ model, messages });
        for await (const _ of await openai.chat.completions.create({ model, messages, stream: true })) {
          // drain
        }
        await openai.responses.create({ model, input: "Hello" });
        for await (const _ of await openai.responses.create({ model, input: "Hello", stream: true })) {
          // drain
        }
        expect(server().requests).toHaveLength(4);
        for (let i = 0; i < 4; i++) expect(sentCap(i)).toBeUndefined();
      });

      it(`AI SDK ${model}: generateText and streamText (chat and responses) send no cap when the budget does not bind`, async () => {
        const sre = roomy();
        const provider = createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL });
        const wrap = (inner: any) =>
          wrapLanguageModel({
            model: inner,
            middleware: agentSREMiddleware(sre, { agentId: "a", taskId: "t" }),
          });
        await generateText({ model: wrap(provider.chat(model)), prompt: "Hello", maxRetries: 0 });
        await generateText({ model: wrap(provider.responses(model)), prompt: "Hello", maxRetries: 0 });
        const streamed = streamText({ model: wrap(provider.chat(model)), prompt: "Hello", maxRetries: 0 });
        expect(await streamed.text).toBe("Hello!");
        expect(server().requests).toHaveLength(3);
        for (let i = 0; i < 3; i++) expect(sentCap(i)).toBeUndefined();
      });

      it(`${model}: when the budget binds, the cap sent is the allowance, at most the model's ${most}`, async () => {
        const openai = guardOpenAI(client(), tight(model), { agentId: "a", taskId: "t" });
        await openai.chat.completions.create({ model, messages: [{ role: "user", content: "Hello" }] });
        await openai.responses.create({ model, input: "Hello" });
        const sre = tight(model);
        const provider = createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL });
        const wrapped = wrapLanguageModel({
          model: provider.chat(model),
          middleware: agentSREMiddleware(sre, { agentId: "a", taskId: "t" }),
        });
        await generateText({ model: wrapped, prompt: "Hello", maxRetries: 0 });
        expect(server().requests).toHaveLength(3);
        for (let i = 0; i < 3; i++) {
          const cap = sentCap(i) as number;
          expect(cap).toBeGreaterThan(64);
          expect(cap).toBeLessThanOrEqual(most);
          // What the budget can pay for at the model's output price.
          expect(cap).toBeLessThan(model === "gpt-4.1" ? 1_250 : 3_334);
        }
      });
    }

    it("a caller's own cap is kept when the budget does not bind and lowered when it does", async () => {
      const messages = [{ role: "user", content: "Hello" }];
      await guardOpenAI(client(), roomy(), { agentId: "a", taskId: "t" }).chat.completions.create({
        model: "gpt-4.1",
        messages,
        max_tokens: 300,
      });
      await guardOpenAI(client(), tight(), { agentId: "a", taskId: "t" }).chat.completions.create({
        model: "gpt-4.1",
        messages,
        max_tokens: 30_000,
      });
      expect(server().requests[0]?.body.max_tokens).toBe(300);
      expect(server().requests[1]?.body.max_tokens).toBeLessThan(1_250);
    });

    it("a model the registry does not list gets no cap above the documented bound", async () => {
      // No price for it: a token cap per task is what binds.
      const roomyTokens = new AgentSRE({ budget: { perTaskTokenLimit: 1_000_000 } });
      const tightTokens = new AgentSRE({ budget: { perTaskTokenLimit: 1_000 } });
      const messages = [{ role: "user", content: "Hello" }];
      await guardOpenAI(client(), roomyTokens, { agentId: "a", taskId: "t" }).chat.completions.create({
        model: "acme-finetune-v3",
        messages,
      });
      await guardOpenAI(client(), tightTokens, { agentId: "a", taskId: "t" }).chat.completions.create({
        model: "acme-finetune-v3",
        messages,
      });
      expect(sentCap(0)).toBeUndefined();
      const cap = sentCap(1) as number;
      expect(cap).toBeGreaterThan(0);
      expect(cap).toBeLessThan(UNKNOWN_MODEL_OUTPUT_CAP_TOKENS);
    });
  });
}
