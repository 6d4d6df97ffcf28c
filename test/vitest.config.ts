import { defineConfig } from "vitest/config";

// End-to-end tests spawn processes (the CLI, MCP servers) and run real frameworks over local HTTP: on a
// loaded 2-core machine they can take many times longer than on an idle one, so the defaults are generous.
export default defineConfig({
  test: {
    name: "e2e",
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "packaging/**"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
