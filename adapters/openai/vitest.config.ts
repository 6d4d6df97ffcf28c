import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "openai", include: ["src/**/*.test.ts"], environment: "node" },
});
