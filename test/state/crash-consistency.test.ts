import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CostGuard } from "@agent-sre/core";
import { SqliteStore } from "@agent-sre/store-sqlite";
import { describe, expect, it } from "vitest";
import { startNode, tempDir } from "../mcp/helpers.js";

const BURST = fileURLToPath(new URL("./fixtures/commit-burst.mjs", import.meta.url));
const amount = (i: number) => (i % 7) * 1000 + 1;

/**
 * kill -9 lands at random points of a burst of commits (reserve + commit, each one SQLite transaction
 * touching the task, day, month and org keys). After each crash the ledger holds exactly the committed
 * calls, plus at most the one in flight as a whole: never a part of one, never one twice, nothing held.
 */
describe("crash consistency of the SQLite ledger", { timeout: 180_000 }, () => {
  it("after kill -9 at random points, the ledger equals the sum of the committed calls", async () => {
    const file = join(tempDir("agent-sre-crash-"), "state.db");
    let committed = 0; // micro-dollars of calls whose commit returned, over every round
    let inFlightAllowance = 0; // calls that may have committed without saying so, one per round
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 6; round++) {
      const child = startNode([BURST, file, "100000"]);
      await child.waitFor(/ready/, 30_000);
      const target = 20 + Math.floor(random() * 400);
      await child.waitFor(new RegExp(`c ${target} `), 60_000);
      child.kill("SIGKILL");
      await child.exited;
      const lines = child
        .output()
        .split("\n")
        .filter((line) => line.startsWith("c "));
      let last = 0;
      for (const line of lines) {
        const [, index, micros] = line.split(" ");
        expect(Number(micros)).toBe(amount(Number(index)));
        committed += Number(micros);
        last = Number(index);
      }
      expect(last).toBeGreaterThanOrEqual(target);

      const store = new SqliteStore(file);
      const guard = new CostGuard({ store, perAgentDailyLimitUsd: 1_000_000 });
      const status = guard.agentStatus("burst");
      const day = Math.round(status.spentTodayUsd * 1_000_000);
      const month = Math.round(status.spentThisMonthUsd * 1_000_000);
      const org = Math.round(guard.snapshot().org.spentThisMonthUsd * 1_000_000);
      // Every key of one commit moved together.
      expect(month).toBe(day);
      expect(org).toBe(day);
      // Nothing is left held by the dead process.
      expect(status.reservedTodayUsd).toBe(0);
      // The call after the last printed one may have committed just before the kill: all of it or none.
      const extra = day - committed - inFlightAllowance;
      expect([0, amount(last + 1)]).toContain(extra);
      inFlightAllowance += extra;
      store.close();
    }
  });
});
