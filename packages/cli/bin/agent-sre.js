#!/usr/bin/env node
// The agent-sre command. Logs go to stderr; under `proxy` with stdio, stdout is the MCP channel.
import { setMaxListeners } from "node:events";
import { run } from "../dist/index.js";

// The SDK's Streamable HTTP client passes one AbortSignal to every fetch of a session; undici drops its
// listener only when the request is garbage-collected, so busy HTTP upstreams trip Node's (false) leak warning.
setMaxListeners(0);

process.exitCode = await run(process.argv.slice(2));
