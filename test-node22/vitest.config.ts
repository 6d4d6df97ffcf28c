import { defineConfig } from "vitest/config";

// Run by run.mjs on Node 22 (ai@7, openai@7 and the MCP conformance runner need it); not part of the Node 20 `vitest run` projects.
export default defineConfig({
  // Spawns MCP processes and runs real SDKs over local HTTP: generous timeouts for loaded machines.
  test: {
    name: "node22",
    include: ["*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
