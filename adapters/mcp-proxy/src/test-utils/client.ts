import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { McpProxy } from "../proxy.js";
import type { ProxySession } from "../session.js";

export interface TestClient {
  client: Client;
  session: ProxySession;
  logs: unknown[];
  listChanged: number;
  close(): Promise<void>;
}

/** A real SDK client connected to the proxy in memory, answering sampling, elicitation and roots. */
export async function connectClient(
  proxy: McpProxy,
  options: { name?: string; capabilities?: ClientCapabilities } = {},
): Promise<TestClient> {
  const capabilities = options.capabilities ?? {
    sampling: {},
    elicitation: {},
    roots: { listChanged: true },
  };
  const client = new Client({ name: options.name ?? "test-client", version: "9.9.9" }, { capabilities });
  const state = { logs: [] as unknown[], listChanged: 0 };
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const first = request.params.messages[0]?.content as { text?: string };
      return {
        role: "assistant",
        model: "fake-model",
        content: { type: "text", text: `summary of [${first.text}]` },
      };
    });
  }
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { ok: true } }));
  }
  if (capabilities.roots) {
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: "file:///work", name: "work" }],
    }));
  }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    state.logs.push(n.params);
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    state.listChanged++;
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const session = await proxy.connect(serverSide);
  await client.connect(clientSide);
  return {
    client,
    session,
    get logs() {
      return state.logs;
    },
    get listChanged() {
      return state.listChanged;
    },
    close: () => client.close(),
  };
}

/** Lets pending promise callbacks and in-memory deliveries run. */
export async function flush(times = 20): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((resolve) => setImmediate(resolve));
}
