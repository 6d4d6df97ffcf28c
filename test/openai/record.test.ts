import { AgentSRE, parseTrace, Recorder } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { useFakeOpenAI } from "./fake-openai-server.js";

describe("guardOpenAI record option (real openai client, local fake server)", () => {
  const server = useFakeOpenAI();

  it("records the request body and the completion, and every chunk of a stream, with the API key never written", async () => {
    const sre = new AgentSRE();
    const recorder = new Recorder({ source: "openai" });
    const client = new OpenAI({
      apiKey: "sk-test-0123456789abcdefghijkl",
      baseURL: server().baseURL,
      maxRetries: 0,
    });
    const openai = guardOpenAI(client, sre, { agentId: "support", taskId: "t-9", record: recorder });
    server().reply(
      { text: "Hi there", usage: { input: 12, output: 3 } },
      { text: "one two three", chunks: 3, usage: { input: 20, output: 6 } },
    );
    await openai.chat.completions.create({
      model: "gpt-4.1",
      messages: [{ role: "user", content: "Hello" }],
    });
    const stream = await openai.chat.completions.create({
      model: "gpt-4.1",
      messages: [{ role: "user", content: "Count" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("one two three");

    const run = recorder.endRun("support", "t-9");
    expect(run?.text).not.toContain("sk-test-0123456789");
    const trace = parseTrace(run?.text ?? "");
    expect(trace.calls.map((c) => [c.kind, c.name, c.api, c.ok])).toEqual([
      ["model", "gpt-4.1", "openai.chat", true],
      ["model", "gpt-4.1", "openai.chat", true],
    ]);
    expect(trace.calls[0]).toMatchObject({
      request: { model: "gpt-4.1", messages: [{ role: "user", content: "Hello" }] },
      response: { choices: [{ message: { content: "Hi there" } }], usage: { prompt_tokens: 12 } },
      usage: { inputTokens: 12, outputTokens: 3 },
    });
    const chunks =
      (
        trace.calls[1]?.response as
          | { stream?: Array<{ choices?: Array<{ delta?: { content?: string } }> }> }
          | undefined
      )?.stream ?? [];
    expect(chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("")).toBe("one two three");
    expect(trace.calls[1]?.usage).toMatchObject({ inputTokens: 20, outputTokens: 6 });
  });
});
