import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { FakeUpstream } from "./upstream.js";

export interface HttpUpstream {
  url: string;
  /** Headers of every request the upstream received. */
  headers: IncomingHttpHeaders[];
  /** Forgets every session (as a restarted server would): the next request gets 404 "Session not found". */
  forgetSessions(): void;
  sessions(): number;
  deleted: string[];
  close(): Promise<void>;
}

/** Serves a fake upstream over Streamable HTTP on 127.0.0.1 (stateful, one server per session). */
export async function startHttpUpstream(fake: FakeUpstream): Promise<HttpUpstream> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const headers: IncomingHttpHeaders[] = [];
  const deleted: string[] = [];
  const server = createServer(async (req, res) => {
    headers.push(req.headers);
    const id = req.headers["mcp-session-id"] as string | undefined;
    if (id !== undefined) {
      const transport = transports.get(id);
      if (transport === undefined) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(
          JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }),
        );
        return;
      }
      if (req.method === "DELETE") deleted.push(id);
      await transport.handleRequest(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      res.writeHead(400).end();
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        transports.set(sid, transport);
      },
      onsessionclosed: (sid) => {
        transports.delete(sid);
      },
    });
    await fake.createServer().connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    headers,
    deleted,
    forgetSessions: () => transports.clear(),
    sessions: () => transports.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
