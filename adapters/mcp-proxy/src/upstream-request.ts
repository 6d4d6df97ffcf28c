import type { Agent, RequestOptions } from "node:http";
import { urlToHttpOptions } from "node:url";

/** Where a URL's requests go (what `node:http` reads of `urlToHttpOptions`), worked out once per URL object. */
interface Target {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly path: string;
  /** The Host header `node:http` would send (brackets around IPv6, the port unless the default). */
  readonly host: string;
  /** The Authorization header `node:http` would derive from credentials in the URL. */
  readonly authorization: string | undefined;
}

const targets = new WeakMap<URL, Target>();

export function targetOf(url: URL): Target {
  let target = targets.get(url);
  if (target === undefined) {
    const options = urlToHttpOptions(url);
    target = {
      protocol: options.protocol ?? url.protocol,
      hostname: options.hostname ?? url.hostname,
      port: options.port === undefined || options.port === "" ? undefined : Number(options.port),
      path: options.path ?? "/",
      host: url.host,
      authorization:
        options.auth === undefined || options.auth === null
          ? undefined
          : `Basic ${Buffer.from(options.auth).toString("base64")}`,
    };
    targets.set(url, target);
  }
  return target;
}

/**
 * The options of one request: only the fields `node:http` reads (the agent copies them again), and the headers
 * as a flat list, which it writes as they are instead of storing each with `setHeader` first. The Host and
 * Authorization headers it adds to an object's headers are added here, unless the caller's headers have them.
 */
export function requestOptions(
  target: Target,
  method: string,
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
  agent: Agent,
): RequestOptions {
  const list: string[] = [];
  let host = false;
  let authorization = false;
  for (const name in headers) {
    const value = headers[name] as string;
    const lower = name.length === 4 || name.length === 13 || name.length === 14 ? name.toLowerCase() : "";
    if (lower === "content-length" && body !== undefined) continue; // ours, below
    list.push(name, value);
    if (lower === "host") host = true;
    else if (lower === "authorization") authorization = true;
  }
  if (body !== undefined) list.push("content-length", String(Buffer.byteLength(body)));
  if (!host) list.push("host", target.host);
  if (!authorization && target.authorization !== undefined) list.push("authorization", target.authorization);
  const options: RequestOptions = {
    protocol: target.protocol,
    hostname: target.hostname,
    path: target.path,
    method,
    headers: list as unknown as RequestOptions["headers"],
    agent,
  };
  if (target.port !== undefined) options.port = target.port;
  return options;
}
