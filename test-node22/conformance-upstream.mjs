// An MCP server over Streamable HTTP that implements what the official conformance server scenarios
// (@modelcontextprotocol/conformance) ask for: the test_* tools, resources, templates, subscriptions, prompts,
// completion, logging and the SEP-1699 reconnection tool. Written with the SDK's low-level Server so every
// schema goes out exactly as written here (raw JSON Schema 2020-12 included). One MCP session per client.
//
//   import { startConformanceUpstream } from "./conformance-upstream.mjs";
//   const upstream = await startConformanceUpstream(); // { url: "http://127.0.0.1:<port>/mcp", close() }
//
// `node conformance-upstream.mjs [port]` serves it standalone.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
const EMPTY = { type: "object", properties: {} };
const text = (t) => ({ content: [{ type: "text", text: t }] });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ELICIT_DEFAULTS = {
  type: "object",
  properties: {
    name: { type: "string", description: "User name", default: "John Doe" },
    age: { type: "integer", description: "User age", default: 30 },
    score: { type: "number", description: "User score", default: 95.5 },
    status: {
      type: "string",
      description: "User status",
      enum: ["active", "inactive", "pending"],
      default: "active",
    },
    verified: { type: "boolean", description: "Verification status", default: true },
  },
  required: [],
};
const options = (prefix, titles) => titles.map((title, i) => ({ const: `${prefix}${i + 1}`, title }));
const ELICIT_ENUMS = {
  type: "object",
  properties: {
    untitledSingle: { type: "string", description: "Pick one", enum: ["option1", "option2", "option3"] },
    titledSingle: {
      type: "string",
      description: "Pick one",
      oneOf: options("value", ["First", "Second", "Third"]),
    },
    legacyEnum: {
      type: "string",
      description: "Pick one",
      enum: ["opt1", "opt2", "opt3"],
      enumNames: ["One", "Two", "Three"],
    },
    untitledMulti: {
      type: "array",
      description: "Pick some",
      minItems: 1,
      maxItems: 3,
      items: { type: "string", enum: ["option1", "option2", "option3"] },
    },
    titledMulti: {
      type: "array",
      description: "Pick some",
      minItems: 1,
      maxItems: 3,
      items: { anyOf: options("value", ["First", "Second", "Third"]) },
    },
  },
  required: [],
};

const TOOLS = [
  { name: "test_simple_text", description: "Returns simple text", inputSchema: EMPTY },
  { name: "test_image_content", description: "Returns an image", inputSchema: EMPTY },
  { name: "test_audio_content", description: "Returns audio", inputSchema: EMPTY },
  { name: "test_embedded_resource", description: "Returns an embedded resource", inputSchema: EMPTY },
  {
    name: "test_multiple_content_types",
    description: "Returns text, image and resource",
    inputSchema: EMPTY,
  },
  { name: "test_tool_with_logging", description: "Logs while it runs", inputSchema: EMPTY },
  { name: "test_tool_with_progress", description: "Reports progress", inputSchema: EMPTY },
  { name: "test_error_handling", description: "Always fails", inputSchema: EMPTY },
  { name: "test_reconnection", description: "Closes its SSE stream mid-call (SEP-1699)", inputSchema: EMPTY },
  {
    name: "test_sampling",
    description: "Asks the client's LLM",
    inputSchema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
  },
  {
    name: "test_elicitation",
    description: "Asks the user",
    inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  },
  { name: "test_elicitation_sep1034_defaults", description: "Elicitation with defaults", inputSchema: EMPTY },
  { name: "test_elicitation_sep1330_enums", description: "Elicitation with enums", inputSchema: EMPTY },
  {
    name: "json_schema_2020_12_tool",
    description: "Tool with a JSON Schema 2020-12 input schema (SEP-1613)",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } },
      },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
  },
];

const RESOURCES = {
  "test://static-text": {
    name: "static-text",
    mimeType: "text/plain",
    text: "This is the content of the static text resource.",
  },
  "test://static-binary": { name: "static-binary", mimeType: "image/png", blob: PNG },
  "test://watched-resource": {
    name: "watched-resource",
    mimeType: "text/plain",
    text: "Watched resource content",
  },
};

const PROMPTS = [
  { name: "test_simple_prompt", description: "A prompt without arguments" },
  {
    name: "test_prompt_with_arguments",
    description: "A prompt with arguments",
    arguments: [
      { name: "arg1", description: "First argument", required: true },
      { name: "arg2", description: "Second argument", required: true },
    ],
  },
  {
    name: "test_prompt_with_embedded_resource",
    description: "A prompt with an embedded resource",
    arguments: [{ name: "resourceUri", description: "URI to embed", required: true }],
  },
  { name: "test_prompt_with_image", description: "A prompt with an image" },
];

/** One low-level MCP server per session; `transport` is its Streamable HTTP transport (for test_reconnection). */
function createMcpServer(getTransport) {
  const server = new Server(
    { name: "agent-sre-conformance-upstream", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  const subscriptions = new Set();

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args = {} } = request.params;
    const notify = (method, params) => extra.sendNotification({ method, params });
    switch (name) {
      case "test_simple_text":
        return text("This is a simple text response for testing.");
      case "test_image_content":
        return { content: [{ type: "image", data: PNG, mimeType: "image/png" }] };
      case "test_audio_content":
        return { content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] };
      case "test_embedded_resource":
        return {
          content: [
            {
              type: "resource",
              resource: {
                uri: "test://embedded-resource",
                mimeType: "text/plain",
                text: "This is an embedded resource content.",
              },
            },
          ],
        };
      case "test_multiple_content_types":
        return {
          content: [
            { type: "text", text: "Multiple content types test:" },
            { type: "image", data: PNG, mimeType: "image/png" },
            {
              type: "resource",
              resource: {
                uri: "test://mixed-content-resource",
                mimeType: "application/json",
                text: JSON.stringify({ test: "data", value: 123 }),
              },
            },
          ],
        };
      case "test_tool_with_logging":
        for (const data of ["Tool execution started", "Tool processing data", "Tool execution completed"]) {
          await notify("notifications/message", { level: "info", data });
          await sleep(20);
        }
        return text("Tool with logging executed successfully");
      case "test_tool_with_progress": {
        const progressToken = request.params._meta?.progressToken ?? 0;
        for (const progress of [0, 50, 100]) {
          await notify("notifications/progress", {
            progressToken,
            progress,
            total: 100,
            message: `step ${progress}`,
          });
          await sleep(20);
        }
        return text(String(progressToken));
      }
      case "test_error_handling":
        return {
          isError: true,
          content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
        };
      case "test_reconnection":
        getTransport()?.closeSSEStream(extra.requestId);
        await sleep(100);
        return text("Reconnection test completed successfully.");
      case "test_sampling": {
        const result = await extra.sendRequest(
          {
            method: "sampling/createMessage",
            params: {
              messages: [{ role: "user", content: { type: "text", text: String(args.prompt) } }],
              maxTokens: 100,
            },
          },
          CreateMessageResultSchema,
        );
        return text(`LLM response: ${result.content?.text ?? "No response"}`);
      }
      case "test_elicitation":
      case "test_elicitation_sep1034_defaults":
      case "test_elicitation_sep1330_enums": {
        const [message, requestedSchema] =
          name === "test_elicitation"
            ? [
                String(args.message),
                {
                  type: "object",
                  properties: { response: { type: "string", description: "User's response" } },
                  required: ["response"],
                },
              ]
            : name === "test_elicitation_sep1034_defaults"
              ? ["Please review the form fields with defaults", ELICIT_DEFAULTS]
              : ["Please select options from the enum fields", ELICIT_ENUMS];
        const result = await extra.sendRequest(
          { method: "elicitation/create", params: { mode: "form", message, requestedSchema } },
          ElicitResultSchema,
        );
        return text(
          `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
        );
      }
      case "json_schema_2020_12_tool":
        return text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`);
      default:
        throw new McpError(-32602, `Unknown tool: ${name}`);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: Object.entries(RESOURCES).map(([uri, r]) => ({ uri, name: r.name, mimeType: r.mimeType })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      { uriTemplate: "test://template/{id}/data", name: "template", mimeType: "application/json" },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, ({ params: { uri } }) => {
    const fixed = RESOURCES[uri];
    if (fixed) {
      const { name: _name, ...content } = fixed;
      return { contents: [{ uri, ...content }] };
    }
    const match = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
    if (!match) throw new McpError(-32002, `Resource not found: ${uri}`);
    const id = match[1];
    return {
      contents: [
        {
          uri,
          mimeType: "application/json",
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    };
  });
  server.setRequestHandler(SubscribeRequestSchema, ({ params: { uri } }) => {
    subscriptions.add(uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, ({ params: { uri } }) => {
    subscriptions.delete(uri);
    return {};
  });

  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, ({ params: { name, arguments: args = {} } }) => {
    const user = (content) => ({ role: "user", content });
    switch (name) {
      case "test_simple_prompt":
        return { messages: [user({ type: "text", text: "This is a simple prompt for testing." })] };
      case "test_prompt_with_arguments":
        return {
          messages: [
            user({ type: "text", text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` }),
          ],
        };
      case "test_prompt_with_embedded_resource":
        return {
          messages: [
            user({
              type: "resource",
              resource: {
                uri: args.resourceUri,
                mimeType: "text/plain",
                text: "Embedded resource content for testing.",
              },
            }),
            user({ type: "text", text: "Please process the embedded resource above." }),
          ],
        };
      case "test_prompt_with_image":
        return {
          messages: [
            user({ type: "image", data: PNG, mimeType: "image/png" }),
            user({ type: "text", text: "Please analyze the image above." }),
          ],
        };
      default:
        throw new McpError(-32602, `Unknown prompt: ${name}`);
    }
  });

  server.setRequestHandler(CompleteRequestSchema, ({ params }) => {
    const values = ["paris", "park", "party"].filter((v) => v.startsWith(params.argument.value));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  server.setRequestHandler(SetLevelRequestSchema, () => ({}));
  return server;
}

/** An in-memory SEP-1699 event store, so a client can resume a stream the server closed (test_reconnection). */
function createEventStore() {
  const events = [];
  return {
    async storeEvent(streamId, message) {
      const eventId = `${streamId}::${String(events.length).padStart(8, "0")}`;
      events.push({ eventId, streamId, message });
      return eventId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.split("::")[0];
      for (const event of events) {
        if (
          event.streamId === streamId &&
          event.eventId > lastEventId &&
          Object.keys(event.message).length > 0
        ) {
          await send(event.eventId, event.message);
        }
      }
      return streamId;
    },
  };
}

const readJson = async (req) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8");
  return body ? JSON.parse(body) : undefined;
};

/** Starts the upstream on 127.0.0.1 (`port` 0 = ephemeral). */
export async function startConformanceUpstream(port = 0) {
  const sessions = new Map();
  let allowedHosts = [];
  const http = createServer(async (req, res) => {
    const fail = (status, message) => {
      if (res.headersSent) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
    };
    try {
      // DNS-rebinding protection for every request, before any session lookup.
      if (!allowedHosts.includes(req.headers.host ?? ""))
        return fail(403, `Invalid Host header: ${req.headers.host}`);
      if (new URL(req.url ?? "/", "http://x").pathname !== "/mcp") return fail(404, "Not found");
      const body = req.method === "POST" ? await readJson(req) : undefined;
      const sessionId = req.headers["mcp-session-id"];
      const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
      if (existing) return await existing.handleRequest(req, res, body);
      if (sessionId !== undefined) return fail(404, "Session not found");
      if (req.method !== "POST" || body?.method !== "initialize")
        return fail(400, "Bad Request: no valid session ID");
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        eventStore: createEventStore(),
        retryInterval: 100,
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await createMcpServer(() => transport).connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      fail(500, error instanceof Error ? error.message : String(error));
    }
  });
  await new Promise((resolve) => http.listen(port, "127.0.0.1", resolve));
  const address = http.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  allowedHosts = [`127.0.0.1:${actualPort}`, `localhost:${actualPort}`, `[::1]:${actualPort}`];
  return {
    url: `http://127.0.0.1:${actualPort}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => {})));
      http.closeAllConnections();
      await new Promise((resolve) => http.close(() => resolve(undefined)));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const upstream = await startConformanceUpstream(Number(process.argv[2] ?? 0));
  console.log(upstream.url);
}
