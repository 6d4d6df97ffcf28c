#!/usr/bin/env node
// agent-sre-demo: the Agent SRE demo (also `agent-sre demo`). See `agent-sre-demo --help`.
import { runDemoCli } from "../dist/index.js";

process.exitCode = await runDemoCli(process.argv.slice(2));
