import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "replay", include: ["src/**/*.test.ts"], environment: "node" },
});
