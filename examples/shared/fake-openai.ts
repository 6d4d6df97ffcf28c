/**
 * Offline mode: a `fetch` that answers like the OpenAI API (chat completions and responses, JSON and
 * server-sent events, with usage), so the real SDK code path runs without a network or an API key.
 */
const encoder = new TextEncoder();

export interface FakeTurn {
  text?: string;
  toolCall?: { name: string; arguments: string };
  /** Stream this text piece until the client stops reading (a runaway generation). */
  endless?: string;
}

export function fakeOpenAIFetch(next: (body: Record<string, unknown>) => FakeTurn): typeof fetch {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>;
    const endpoint = String(url).endsWith("/responses") ? "responses" : "chat";
    const turn = next(body);
    const model = String(body.model);
    const input = Math.ceil(JSON.stringify(body.messages ?? body.input ?? "").length / 4);
    const output = Math.ceil((turn.text ?? turn.toolCall?.arguments ?? "").length / 4) + 1;
    if (body.stream !== true) {
      const json =
        endpoint === "chat"
          ? {
              id: "chatcmpl-offline",
              object: "chat.completion",
              created: 0,
              model,
              choices: [
                {
                  index: 0,
                  finish_reason: turn.toolCall ? "tool_calls" : "stop",
                  message: turn.toolCall
                    ? {
                        role: "assistant",
                        content: null,
                        tool_calls: [{ id: "call_1", type: "function", function: turn.toolCall }],
                      }
                    : { role: "assistant", content: turn.text },
                },
              ],
              usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
            }
          : {
              id: "resp_offline",
              object: "response",
              created_at: 0,
              status: "completed",
              model,
              output: [
                {
                  type: "message",
                  id: "msg_1",
                  role: "assistant",
                  status: "completed",
                  content: [{ type: "output_text", text: turn.text, annotations: [] }],
                },
              ],
              usage: { input_tokens: input, output_tokens: output, total_tokens: input + output },
            };
      return new Response(JSON.stringify(json), { headers: { "content-type": "application/json" } });
    }
    const events =
      endpoint === "chat"
        ? chatEvents(turn, model, input, output, body)
        : responseEvents(turn, model, input, output);
    const signal = init?.signal ?? undefined;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (signal?.aborted) return controller.error(signal.reason);
        const event =
          turn.endless !== undefined && sent > 0 && sent < 5_000
            ? endlessPiece(endpoint, turn.endless, model, sent)
            : events.shift();
        sent++;
        if (event === undefined) return controller.close();
        controller.enqueue(encoder.encode(event));
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  }) as typeof fetch;
}

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
const chunk = (model: string, delta: unknown, finish: string | null = null) =>
  data({
    id: "chatcmpl-offline",
    object: "chat.completion.chunk",
    created: 0,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });

function endlessPiece(endpoint: string, text: string, model: string, i: number): string {
  return endpoint === "chat"
    ? chunk(model, { content: text })
    : data({
        type: "response.output_text.delta",
        sequence_number: i,
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta: text,
      });
}

function chatEvents(
  turn: FakeTurn,
  model: string,
  input: number,
  output: number,
  body: Record<string, unknown>,
): string[] {
  const out = [chunk(model, { role: "assistant", content: "" })];
  if (turn.toolCall) {
    out.push(
      chunk(model, { tool_calls: [{ index: 0, id: "call_1", type: "function", function: turn.toolCall }] }),
    );
    out.push(chunk(model, {}, "tool_calls"));
  } else {
    for (const word of (turn.text ?? "").split(/(?<= )/)) out.push(chunk(model, { content: word }));
    out.push(chunk(model, {}, "stop"));
  }
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
    out.push(
      data({
        id: "chatcmpl-offline",
        object: "chat.completion.chunk",
        created: 0,
        model,
        choices: [],
        usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
      }),
    );
  }
  out.push("data: [DONE]\n\n");
  return out;
}

function responseEvents(turn: FakeTurn, model: string, input: number, output: number): string[] {
  let seq = 0;
  const ev = (type: string, rest: Record<string, unknown>) =>
    `event: ${type}\n${data({ type, sequence_number: seq++, ...rest })}`;
  const base = { id: "resp_offline", object: "response", created_at: 0, model, output: [] };
  const out = [ev("response.created", { response: { ...base, status: "in_progress" } })];
  for (const word of (turn.text ?? "").split(/(?<= )/)) {
    out.push(
      ev("response.output_text.delta", { item_id: "msg_1", output_index: 0, content_index: 0, delta: word }),
    );
  }
  out.push(
    ev("response.completed", {
      response: {
        ...base,
        status: "completed",
        usage: { input_tokens: input, output_tokens: output, total_tokens: input + output },
      },
    }),
  );
  return out;
}
