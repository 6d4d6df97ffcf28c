#!/usr/bin/env node
// The agent-sre command. Logs go to stderr; under `proxy` with stdio, stdout is the MCP channel.
import { setMaxListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { run } from "../dist/index.js";

// The SDK's Streamable HTTP client passes one AbortSignal to every fetch of a session; undici drops its
// listener only when the request is garbage-collected, so busy HTTP upstreams trip Node's (false) leak warning.
setMaxListeners(0);

// `agent-sre proxy` is a long-running server: under a burst of concurrent calls V8 lets the heap grow up to 4×
// its live size before the next full collection (2,000 concurrent calls: 60 MB live, 250–300 MB resident).
// Growing it by at most HEAP_GROWING_PERCENT between collections keeps the peak near the live size, for a few
// more (short) collections. Read by V8 at each collection, so setting it now works; the operator's own heap
// flags (NODE_OPTIONS or node's arguments) win.
const HEAP_GROWING_PERCENT = 20;
const nodeFlags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
if (
  process.argv[2] === "proxy" &&
  !/--(heap[-_]growing[-_]percent|optimize[-_]for[-_]size)/.test(nodeFlags)
) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

process.exitCode = await run(process.argv.slice(2));
