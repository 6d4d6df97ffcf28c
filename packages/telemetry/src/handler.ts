import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";

type Source = Registry | { registry: Registry };

const registryOf = (source: Source): Registry => ("registry" in source ? source.registry : source);

/**
 * A Node `http` / Express / Connect handler that serves the registry's text exposition on GET and HEAD.
 * Mount it where you like (`app.get("/metrics", metricsHandler(prom))`); it does no authentication, so
 * mount it behind whatever protects your other internal endpoints.
 */
export function metricsHandler(
  source: Source,
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
  const registry = registryOf(source);
  return (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" });
      res.end("Method not allowed");
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { "Content-Type": registry.contentType, "Cache-Control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        if (next !== undefined) return next(error);
        res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("metrics collection failed");
      },
    );
  };
}

/** The exposition as a fetch-API `Response` (Hono, Next.js route handlers, Deno, Bun). */
export async function metricsResponse(source: Source): Promise<Response> {
  const registry = registryOf(source);
  return new Response(await registry.metrics(), {
    status: 200,
    headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" },
  });
}
