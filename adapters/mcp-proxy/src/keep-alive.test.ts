import { Agent, createServer, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { keepIdleWithGrace, markActive } from "./keep-alive.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it("hints the short timeout, and closes an idle connection only after a second, grace period", async () => {
  const sockets: Socket[] = [];
  let timeouts = 0;
  const server = createServer((req, res) => {
    markActive(req.socket);
    req.resume();
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 });
    res.end("{}");
  });
  keepIdleWithGrace(server, 2_000, 200);
  server.on("timeout", () => timeouts++);
  server.on("connection", (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());

  const agent = new Agent({ keepAlive: true }); // keeps the connection until the server closes it
  cleanups.push(() => agent.destroy());
  const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = request(
      { port: (server.address() as AddressInfo).port, host: "127.0.0.1", method: "POST", agent },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.headers));
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
  expect(headers["keep-alive"]).toBe("timeout=2");
  await expect.poll(() => sockets[0]?.destroyed, { timeout: 5_000 }).toBe(true);
  expect(timeouts).toBe(2); // the hinted timeout, re-armed once for the grace, then closed
});
