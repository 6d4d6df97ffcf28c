import { defineConfig } from "vitest/config";

// Generous timeouts: property tests and real frameworks run many times slower on a loaded machine; a
// timeout only guards against hangs, no test asserts wall-clock time.
export default defineConfig({
  test: {
    name: "demo",
    include: ["src/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
