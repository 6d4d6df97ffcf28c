import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "mcp-proxy", include: ["src/**/*.test.ts"], environment: "node" },
});
