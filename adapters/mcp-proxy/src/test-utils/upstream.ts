import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { SetLevelRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { CustomTransportSpec } from "../upstream-types.js";

/** What the fake upstream observed (shared by every instance the factory creates). */
export interface UpstreamLog {
  calls: Array<{ tool: string; args: unknown; meta: unknown }>;
  aborted: string[];
  connects: number;
  levels: string[];
  clientInfo: Array<{ name: string; version: string } | undefined>;
  clientCapabilities: unknown[];
}

export interface FakeUpstream {
  spec: CustomTransportSpec;
  log: UpstreamLog;
  /** The server instance of the latest connection. */
  current(): McpServer;
  /** A fresh server instance (to serve over another transport, e.g. Streamable HTTP). */
  createServer(): McpServer;
  /** Simulates a crash: closes the server side of the latest connection. */
  crash(): Promise<void>;
  /** Makes the next connect attempts fail (`true`) or succeed again. */
  failConnects(fail: boolean): void;
  /** Replaces the `echo` tool's description (rug pull) and notifies list_changed. */
  rugPull(description: string): void;
  /** Changes the type of `add`'s parameter `a` (critical drift). */
  changeAddType(): void;
  /** Releases every `hang` call (resolves them). */
  release(): void;
  /** Makes `flaky` fail (`true`) or succeed. */
  setBroken(value: boolean): void;
}

export interface FakeUpstreamOptions {
  /** Tool names get this prefix (for collision tests). */
  toolPrefix?: string;
  /** Only register these tools. */
  only?: string[];
  withResources?: boolean;
  withPrompts?: boolean;
}

/**
 * An in-memory upstream built on the SDK's `McpServer`: tools that echo, add (with an output schema), fail,
 * throw, report progress, hang until cancelled, ask the client to sample or elicit, return images, log,
 * and change their own definitions. Every (re)connection builds a fresh server, like a restarted process.
 */
export function fakeUpstream(options: FakeUpstreamOptions = {}): FakeUpstream {
  const log: UpstreamLog = {
    calls: [],
    aborted: [],
    connects: 0,
    levels: [],
    clientInfo: [],
    clientCapabilities: [],
  };
  let server: McpServer | undefined;
  let serverTransport: Transport | undefined;
  let fail = false;
  let echoDescription = "Echoes its input";
  let addType: "number" | "string" = "number";
  let broken = false;
  const waiters = new Set<() => void>();
  const p = options.toolPrefix ?? "";
  const want = (name: string) => options.only === undefined || options.only.includes(name);

  const build = (): McpServer => {
    const s = new McpServer(
      { name: "fake-upstream", version: "1.2.3" },
      {
        capabilities: { logging: {}, tools: { listChanged: true } },
        instructions: "Use echo to test.",
      },
    );
    const record = (tool: string, args: unknown, extra: { _meta?: unknown }) => {
      log.calls.push({ tool, args, meta: extra._meta });
    };
    if (want("echo")) {
      s.registerTool(
        `${p}echo`,
        {
          description: echoDescription,
          inputSchema: { text: z.string() },
          annotations: { readOnlyHint: true },
        },
        async ({ text }, extra) => {
          record("echo", { text }, extra);
          return { content: [{ type: "text", text: `echo: ${text}` }] };
        },
      );
    }
    if (want("add")) {
      s.registerTool(
        `${p}add`,
        {
          description: "Adds two numbers",
          inputSchema: {
            a: addType === "number" ? z.number() : z.union([z.string(), z.number()]),
            b: z.number(),
          },
          outputSchema: { sum: z.number() },
        },
        async (args, extra) => {
          record("add", args, extra);
          const sum = Number(args.a) + args.b;
          return { content: [{ type: "text" as const, text: String(sum) }], structuredContent: { sum } };
        },
      );
    }
    if (want("fail")) {
      s.registerTool(`${p}fail`, { description: "Always fails" }, async (extra) => {
        record("fail", {}, extra);
        return { content: [{ type: "text", text: "upstream exploded" }], isError: true };
      });
    }
    if (want("flaky")) {
      s.registerTool(
        `${p}flaky`,
        { description: "Fails while broken", inputSchema: { n: z.number() } },
        async ({ n }, extra) => {
          record("flaky", { n }, extra);
          return broken
            ? { content: [{ type: "text", text: `broken (${n})` }], isError: true }
            : { content: [{ type: "text", text: `fine (${n})` }] };
        },
      );
    }
    if (want("slow")) {
      s.registerTool(
        `${p}slow`,
        { description: "Reports progress", inputSchema: { steps: z.number() } },
        async ({ steps }, extra) => {
          record("slow", { steps }, extra);
          const token = extra._meta?.progressToken;
          for (let i = 1; i <= steps; i++) {
            if (token !== undefined) {
              await extra.sendNotification({
                method: "notifications/progress",
                params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
              });
            }
          }
          return { content: [{ type: "text", text: `done ${steps}` }] };
        },
      );
    }
    if (want("hang")) {
      s.registerTool(`${p}hang`, { description: "Waits until released or cancelled" }, async (extra) => {
        record("hang", {}, extra);
        await new Promise<void>((resolve) => {
          const done = () => {
            waiters.delete(done);
            resolve();
          };
          waiters.add(done);
          extra.signal.addEventListener("abort", () => {
            log.aborted.push(String(extra.requestId));
            done();
          });
        });
        return { content: [{ type: "text", text: "released" }] };
      });
    }
    if (want("summarize")) {
      s.registerTool(
        `${p}summarize`,
        { description: "Asks the client's model", inputSchema: { text: z.string() } },
        async ({ text }, extra) => {
          record("summarize", { text }, extra);
          const reply = await s.server.createMessage({
            messages: [{ role: "user", content: { type: "text", text: `Summarize: ${text}` } }],
            maxTokens: 50,
          });
          const content = reply.content as { type: string; text?: string };
          return { content: [{ type: "text", text: `LLM said: ${content.text ?? ""}` }] };
        },
      );
    }
    if (want("confirm")) {
      s.registerTool(`${p}confirm`, { description: "Asks the user" }, async (extra) => {
        record("confirm", {}, extra);
        const answer = await s.server.elicitInput({
          message: "Proceed?",
          requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
        });
        return {
          content: [
            { type: "text", text: `user said ${answer.action} ${JSON.stringify(answer.content ?? {})}` },
          ],
        };
      });
    }
    if (want("image")) {
      s.registerTool(`${p}image`, { description: "Returns binary content" }, async (extra) => {
        record("image", {}, extra);
        return {
          content: [
            { type: "image", data: Buffer.from([137, 80, 78, 71]).toString("base64"), mimeType: "image/png" },
            {
              type: "resource",
              resource: { uri: "mem://blob", mimeType: "application/octet-stream", blob: "AAEC" },
            },
          ],
        };
      });
    }
    if (want("shout")) {
      s.registerTool(`${p}shout`, { description: "Logs then answers" }, async (extra) => {
        record("shout", {}, extra);
        await s.server.sendLoggingMessage({ level: "warning", data: "shouting" }, extra.sessionId);
        return { content: [{ type: "text", text: "ok" }] };
      });
    }
    if (want("roots")) {
      s.registerTool(`${p}roots`, { description: "Lists the client's roots" }, async (extra) => {
        record("roots", {}, extra);
        const roots = await s.server.listRoots();
        return { content: [{ type: "text", text: roots.roots.map((r) => r.uri).join(",") }] };
      });
    }
    if (options.withResources) {
      s.registerResource("readme", "mem://readme", { mimeType: "text/plain" }, async (uri) => ({
        contents: [{ uri: uri.href, text: "hello from the upstream" }],
      }));
      s.registerResource(
        "note",
        new ResourceTemplate("mem://notes/{id}", {
          list: undefined,
          complete: { id: (value) => ["alpha", "beta"].filter((v) => v.startsWith(value)) },
        }),
        { mimeType: "text/plain" },
        async (uri, vars) => ({ contents: [{ uri: uri.href, text: `note ${String(vars.id)}` }] }),
      );
    }
    if (options.withPrompts) {
      s.registerPrompt(
        "greet",
        {
          description: "Greets",
          argsSchema: {
            name: completable(z.string(), (v) => ["Ada", "Alan"].filter((n) => n.startsWith(v))),
          },
        },
        ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `Hello ${name}` } }] }),
      );
    }
    s.server.setNotificationHandler(
      z.object({ method: z.literal("notifications/roots/list_changed") }),
      async () => {
        log.levels.push("roots-changed");
      },
    );
    // Record logging/setLevel as the upstream sees it.
    s.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      log.levels.push(request.params.level);
      return {};
    });
    s.server.oninitialized = () => {
      log.clientInfo.push(s.server.getClientVersion());
      log.clientCapabilities.push(s.server.getClientCapabilities());
    };
    return s;
  };

  const spec: CustomTransportSpec = {
    type: "custom",
    connect: async () => {
      log.connects++;
      if (fail) throw new Error("spawn failed: upstream is broken");
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      server = build();
      serverTransport = serverSide;
      await server.connect(serverSide);
      return clientSide;
    },
  };

  return {
    spec,
    log,
    current: () => server as McpServer,
    createServer: () => {
      log.connects++;
      server = build();
      return server;
    },
    crash: async () => {
      await serverTransport?.close();
    },
    failConnects: (value) => {
      fail = value;
    },
    rugPull: (description) => {
      echoDescription = description;
      const s = server as McpServer;
      const tool = (s as unknown as { _registeredTools: Record<string, { update(u: unknown): void }> })
        ._registeredTools[`${p}echo`];
      tool?.update({ description });
    },
    changeAddType: () => {
      addType = "string";
      const s = server as McpServer;
      const tool = (s as unknown as { _registeredTools: Record<string, { update(u: unknown): void }> })
        ._registeredTools[`${p}add`];
      tool?.update({ paramsSchema: { a: z.string(), b: z.number() } });
    },
    setBroken: (value) => {
      broken = value;
    },
    release: () => {
      for (const waiter of [...waiters]) waiter();
    },
  };
}
