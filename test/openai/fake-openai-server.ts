/**
 * A local OpenAI-compatible HTTP server for offline end-to-end tests: `POST /v1/chat/completions` and
 * `POST /v1/responses`, streaming (SSE) and not, with usage — what the real `openai` client and the real
 * `@ai-sdk/openai` provider parse. It listens on 127.0.0.1 on an ephemeral port and records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach } from "vitest";

export interface FakeReply {
  /** The assistant's text, streamed in `chunks` pieces. */
  text?: string;
  /** A function/tool call instead of text. */
  toolCall?: { name: string; arguments: string };
  usage?: { input: number; output: number; cached?: number; reasoning?: number };
  /** Number of stream pieces the text is split into (default 3). */
  chunks?: number;
  /** Stream this text forever (until the client goes away, at most 20,000 pieces). */
  endless?: string;
  /** Answer with this HTTP status and an OpenAI error body. */
  status?: number;
}

export interface RecordedRequest {
  endpoint: "chat" | "responses";
  body: Record<string, unknown>;
  /** Set when the client went away before the response ended. */
  aborted: boolean;
  /** Resolves once the response's connection closed (ended or aborted): tests wait on this, never sleep. */
  closed: Promise<void>;
}

export interface FakeOpenAI {
  url: string;
  /** Base URL for SDKs (`${url}/v1`). */
  baseURL: string;
  requests: RecordedRequest[];
  /** Replies for the next requests, in order; the last one repeats. */
  reply(...replies: FakeReply[]): void;
  /** The reply to every request for `model` (wins over `reply`); `undefined` removes it. */
  replyForModel(model: string, reply: FakeReply | undefined): void;
  close(): Promise<void>;
}

/**
 * Output caps OpenAI documents for the models the tests use. Like the real API, the server answers a
 * request whose `max_tokens` / `max_completion_tokens` / `max_output_tokens` is above the model's maximum
 * with HTTP 400 (`invalid_request_error`). Models not listed here accept any cap.
 */
export const FAKE_MAX_OUTPUT_TOKENS: Readonly<Record<string, number>> = {
  "gpt-4.1": 32_768,
  "gpt-4.1-mini": 32_768,
  "gpt-4o": 16_384,
  "gpt-4o-mini": 16_384,
};

const CAP_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  let replies: FakeReply[] = [{ text: "Hello!", usage: { input: 10, output: 3 } }];
  const requests: RecordedRequest[] = [];
  const byModel = new Map<string, FakeReply>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    const endpoint = req.url?.endsWith("/chat/completions")
      ? "chat"
      : req.url?.endsWith("/responses")
        ? "responses"
        : undefined;
    if (req.method !== "POST" || endpoint === undefined) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const record: RecordedRequest = { endpoint, body, aborted: false, closed };
    requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished) record.aborted = true;
      markClosed();
    });
    const reply =
      byModel.get(String(body.model)) ?? ((replies.length > 1 ? replies.shift() : replies[0]) as FakeReply);
    const most = FAKE_MAX_OUTPUT_TOKENS[String(body.model)];
    const capField = CAP_FIELDS.find((field) => typeof body[field] === "number");
    if (most !== undefined && capField !== undefined && (body[capField] as number) > most) {
      const asked = body[capField] as number;
      res.writeHead(400, { "content-type": "application/json", "x-request-id": "req_fake" }).end(
        JSON.stringify({
          error: {
            message: `${capField} is too large: ${asked}. This model supports at most ${most} completion tokens, whereas you provided ${asked}.`,
            type: "invalid_request_error",
            param: capField,
            code: "invalid_value",
          },
        }),
      );
      return;
    }
    if (reply.status !== undefined) {
      res.writeHead(reply.status, { "content-type": "application/json", "x-request-id": "req_fake" }).end(
        JSON.stringify({
          error: { message: `fake error ${reply.status}`, type: "server_error", code: null },
        }),
      );
      return;
    }
    const model = String(body.model ?? "gpt-4.1");
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req_fake" });
      const send = (data: unknown, event?: string) =>
        new Promise<void>((resolve) => {
          res.write(`${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`, () => resolve());
        });
      if (endpoint === "chat") await streamChat(reply, body, model, send, () => res.destroyed);
      else await streamResponses(reply, model, send, () => res.destroyed);
      if (!res.destroyed) {
        if (endpoint === "chat") res.write("data: [DONE]\n\n");
        res.end();
      }
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "x-request-id": "req_fake" });
    res.end(JSON.stringify(endpoint === "chat" ? chatCompletion(reply, model) : response(reply, model)));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    reply: (...next) => {
      replies = next;
      byModel.clear();
    },
    replyForModel: (model, reply) => {
      if (reply === undefined) byModel.delete(model);
      else byModel.set(model, reply);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const CREATED = 1_760_000_000;

function chatUsage(u: FakeReply["usage"]) {
  if (u === undefined) return undefined;
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
  };
}

function responsesUsage(u: FakeReply["usage"]) {
  if (u === undefined) return undefined;
  return {
    input_tokens: u.input,
    output_tokens: u.output,
    total_tokens: u.input + u.output,
    input_tokens_details: { cached_tokens: u.cached ?? 0 },
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
  };
}

function chatCompletion(reply: FakeReply, model: string) {
  const message = reply.toolCall
    ? {
        role: "assistant",
        content: null,
        refusal: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: reply.toolCall.name, arguments: reply.toolCall.arguments },
          },
        ],
      }
    : { role: "assistant", content: reply.text ?? "", refusal: null };
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: reply.toolCall ? "tool_calls" : "stop" }],
    usage: chatUsage(reply.usage),
  };
}

function split(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

async function streamChat(
  reply: FakeReply,
  body: Record<string, unknown>,
  model: string,
  send: (data: unknown) => Promise<void>,
  gone: () => boolean,
): Promise<void> {
  const chunk = (delta: unknown, finish: string | null = null) => ({
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: CREATED,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  await send(chunk({ role: "assistant", content: "" }));
  if (reply.endless !== undefined) {
    for (let i = 0; i < 20_000 && !gone(); i++) {
      await send(chunk({ content: reply.endless }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    return;
  }
  if (reply.toolCall) {
    await send(
      chunk({
        tool_calls: [
          {
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: reply.toolCall.name, arguments: "" },
          },
        ],
      }),
    );
    for (const piece of split(reply.toolCall.arguments, reply.chunks ?? 3)) {
      await send(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
    await send(chunk({}, "tool_calls"));
  } else {
    for (const piece of split(reply.text ?? "", reply.chunks ?? 3)) await send(chunk({ content: piece }));
    await send(chunk({}, "stop"));
  }
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  if (streamOptions?.include_usage === true && reply.usage !== undefined) {
    await send({
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: CREATED,
      model,
      choices: [],
      usage: chatUsage(reply.usage),
    });
  }
}

function outputItem(reply: FakeReply, status: "in_progress" | "completed") {
  if (reply.toolCall) {
    return {
      type: "function_call",
      id: "fc_1",
      call_id: "call_1",
      name: reply.toolCall.name,
      arguments: status === "completed" ? reply.toolCall.arguments : "",
      status,
    };
  }
  return {
    type: "message",
    id: "msg_1",
    role: "assistant",
    status,
    content:
      status === "completed"
        ? [{ type: "output_text", text: reply.text ?? "", annotations: [], logprobs: [] }]
        : [],
  };
}

function response(reply: FakeReply, model: string, status: "completed" | "in_progress" = "completed") {
  return {
    id: "resp_fake",
    object: "response",
    created_at: CREATED,
    status,
    model,
    output: status === "completed" ? [outputItem(reply, "completed")] : [],
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    temperature: 1,
    top_p: 1,
    usage: status === "completed" ? responsesUsage(reply.usage) : null,
  };
}

async function streamResponses(
  reply: FakeReply,
  model: string,
  send: (data: unknown, event?: string) => Promise<void>,
  gone: () => boolean,
): Promise<void> {
  let seq = 0;
  const event = (type: string, data: Record<string, unknown>) =>
    send({ type, sequence_number: seq++, ...data }, type);
  await event("response.created", { response: response(reply, model, "in_progress") });
  await event("response.in_progress", { response: response(reply, model, "in_progress") });
  await event("response.output_item.added", { output_index: 0, item: outputItem(reply, "in_progress") });
  if (reply.toolCall) {
    for (const piece of split(reply.toolCall.arguments, reply.chunks ?? 3)) {
      await event("response.function_call_arguments.delta", {
        item_id: "fc_1",
        output_index: 0,
        delta: piece,
      });
    }
    await event("response.function_call_arguments.done", {
      item_id: "fc_1",
      output_index: 0,
      arguments: reply.toolCall.arguments,
    });
  } else {
    const part = { type: "output_text", text: "", annotations: [] };
    await event("response.content_part.added", { item_id: "msg_1", output_index: 0, content_index: 0, part });
    if (reply.endless !== undefined) {
      for (let i = 0; i < 20_000 && !gone(); i++) {
        await event("response.output_text.delta", {
          item_id: "msg_1",
          output_index: 0,
          content_index: 0,
          delta: reply.endless,
          logprobs: [],
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return;
    }
    for (const piece of split(reply.text ?? "", reply.chunks ?? 3)) {
      await event("response.output_text.delta", {
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta: piece,
        logprobs: [],
      });
    }
    await event("response.output_text.done", {
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      text: reply.text ?? "",
      logprobs: [],
    });
    await event("response.content_part.done", {
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      part: { ...part, text: reply.text ?? "" },
    });
  }
  await event("response.output_item.done", { output_index: 0, item: outputItem(reply, "completed") });
  await event("response.completed", { response: response(reply, model) });
}

/**
 * One fake server for the enclosing test file or `describe`: started before its tests, closed after them,
 * its recorded requests cleared before each test. Call the returned function inside a test for the server.
 */
export function useFakeOpenAI(): () => FakeOpenAI {
  let server: FakeOpenAI | undefined;
  beforeAll(async () => {
    server = await startFakeOpenAI();
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    if (server) server.requests.length = 0;
  });
  return () => {
    if (server === undefined) throw new Error("the fake OpenAI server is used outside a test");
    return server;
  };
}
