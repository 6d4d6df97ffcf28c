import { defineConfig } from "vitest/config";

// These tests spawn real MCP server processes: generous timeouts so a loaded machine does not fail them.
export default defineConfig({
  test: {
    name: "mcp-proxy",
    include: ["src/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
