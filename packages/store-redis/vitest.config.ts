import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "store-redis", include: ["src/**/*.test.ts"], environment: "node" },
});
