import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      "core",
      "test",
      "adapters/mcp-proxy",
      "packages/cli",
      "packages/store-sqlite",
      "packages/replay",
      "packages/store-redis",
      "packages/demo",
      "adapters/ai-sdk",
      "adapters/openai",
      "adapters/langchain",
      "packages/alerts",
      "packages/telemetry",
      "packages/dashboard",
    ],
  },
});
