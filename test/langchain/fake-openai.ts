/**
 * A minimal OpenAI-compatible Chat Completions server for offline tests of the real `ChatOpenAI` class:
 * `POST /v1/chat/completions`, JSON or SSE (with `stream_options.include_usage`), text or tool calls,
 * usage with cached tokens, and a resolved model snapshot name in every response. Listens on 127.0.0.1
 * on an ephemeral port and records each request body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Turn {
  text?: string;
  toolCall?: { name: string; args: Record<string, unknown> };
  usage: { input: number; output: number; cached?: number };
  /** The snapshot the "provider" resolves the requested model to. */
  model?: string;
  /** Answer with this HTTP error status (an OpenAI error body) instead of a completion. */
  status?: number;
}

export interface FakeOpenAIServer {
  baseURL: string;
  /** Request bodies, in order. */
  requests: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startFakeOpenAI(turns: Turn[]): Promise<FakeOpenAIServer> {
  const requests: Array<Record<string, unknown>> = [];
  let next = 0;
  const server = createServer((req, res) => {
    void answer(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>;
    requests.push(body);
    const turn = turns[Math.min(next++, turns.length - 1)] as Turn;
    if (turn.status !== undefined) {
      res.writeHead(turn.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "The server is overloaded", type: "server_error" } }));
      return;
    }
    const model = turn.model ?? String(body.model);
    const usage = {
      prompt_tokens: turn.usage.input,
      completion_tokens: turn.usage.output,
      total_tokens: turn.usage.input + turn.usage.output,
      prompt_tokens_details: { cached_tokens: turn.usage.cached ?? 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    const toolCalls = turn.toolCall
      ? [
          {
            id: `call_${next}`,
            type: "function",
            function: { name: turn.toolCall.name, arguments: JSON.stringify(turn.toolCall.args) },
          },
        ]
      : undefined;
    const base = { id: `chatcmpl-${next}`, created: 1_760_000_000, model };

    if (body.stream !== true) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ...base,
          object: "chat.completion",
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                content: turn.text ?? null,
                refusal: null,
                ...(toolCalls ? { tool_calls: toolCalls } : {}),
              },
              logprobs: null,
              finish_reason: toolCalls ? "tool_calls" : "stop",
            },
          ],
          usage,
        }),
      );
      return;
    }

    res.writeHead(200, { "content-type": "text/event-stream" });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: unknown, finish: string | null = null) => ({
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    send(chunk({ role: "assistant", content: "" }));
    if (toolCalls) {
      send(chunk({ tool_calls: [{ index: 0, ...toolCalls[0] }] }));
      send(chunk({}, "tool_calls"));
    } else {
      for (const word of (turn.text ?? "").split(/(?<= )/)) send(chunk({ content: word }));
      send(chunk({}, "stop"));
    }
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage === true)
      send({ ...base, object: "chat.completion.chunk", choices: [], usage });
    res.end("data: [DONE]\n\n");
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
