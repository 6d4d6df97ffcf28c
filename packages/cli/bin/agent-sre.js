#!/usr/bin/env node
// The agent-sre command. Logs go to stderr; under `proxy` with stdio, stdout is the MCP channel.
import { setMaxListeners } from "node:events";
import { setFlagsFromString } from "node:v8";

// The SDK's Streamable HTTP client passes one AbortSignal to every fetch of a session; undici drops its
// listener only when the request is garbage-collected, so busy HTTP upstreams trip Node's (false) leak warning.
setMaxListeners(0);

// `agent-sre proxy` is a long-running server: under a burst of concurrent calls V8 lets the heap grow up to 4× its
// live size before the next full collection, plus a young generation of up to 2 × 16 MB (2,000 concurrent calls:
// ~30 MB live, 250–300 MB resident). Growing the old generation by at most 20 % between collections and keeping
// the young generation at its initial size (growth factor 1) keeps the peak near 150 MB, for ~25 % more proxy CPU
// in more, shorter collections. V8 reads both flags when it collects, so setting them here works — before the CLI
// is imported, as loading it would already grow the young generation. The operator's own heap flags (NODE_OPTIONS
// or node's arguments) win: `--semi-space-growth-factor=2` gives back V8's default young generation.
const nodeFlags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
if (process.argv[2] === "proxy") {
  const own = (pattern) => new RegExp(`--(${pattern})`).test(nodeFlags);
  if (!own("heap[-_]growing[-_]percent|optimize[-_]for[-_]size"))
    setFlagsFromString("--heap-growing-percent=20");
  if (!own("semi[-_]space|optimize[-_]for[-_]size")) setFlagsFromString("--semi-space-growth-factor=1");
}

const { run } = await import("../dist/index.js");
process.exitCode = await run(process.argv.slice(2));
