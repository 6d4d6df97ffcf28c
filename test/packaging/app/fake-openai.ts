// The one fake of the installed-app check: an OpenAI-compatible chat completions endpoint on 127.0.0.1.
// Every client in front of it (the OpenAI SDK, @ai-sdk/openai, @langchain/openai) is the real one.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const REPLY = "hello from the fake model";
export const USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

export async function startFakeOpenAI(): Promise<{ baseURL: string; requests: number; close(): void }> {
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      state.requests++;
      const request = JSON.parse(body || "{}") as { model?: string; stream?: boolean };
      const model = `${request.model ?? "gpt-4o-mini"}-2024-07-18`;
      const base = { id: `chatcmpl-${state.requests}`, created: 1_700_000_000, model };
      if (!req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${req.url}` } }));
        return;
      }
      if (request.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
        const delta = { role: "assistant", content: REPLY };
        chunk({
          ...base,
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta, finish_reason: null }],
        });
        chunk({
          ...base,
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
        });
        chunk({ ...base, object: "chat.completion.chunk", choices: [], usage: USAGE });
        res.end("data: [DONE]\n\n");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ...base,
          object: "chat.completion",
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: REPLY, refusal: null },
              finish_reason: "stop",
              logprobs: null,
            },
          ],
          usage: USAGE,
        }),
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return state.requests;
    },
    close: () => server.close(),
  };
}
