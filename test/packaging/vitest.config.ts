import { defineConfig } from "vitest/config";

// Its own step of `pnpm run check` (after the unit and e2e tests): it packs, installs from the registry and
// compiles, so it runs alone rather than competing with timing-sensitive tests for the CPU.
export default defineConfig({
  test: { name: "packaging", root: import.meta.dirname, include: ["*.test.ts"], environment: "node" },
});
