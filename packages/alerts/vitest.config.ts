import { defineConfig } from "vitest/config";

// Generous timeouts: tests run many times slower on a loaded machine; a timeout only guards against hangs,
// no test asserts wall-clock time.
export default defineConfig({
  test: {
    name: "alerts",
    include: ["src/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
