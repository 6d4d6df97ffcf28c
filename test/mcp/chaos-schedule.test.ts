import { afterEach, describe, expect, it } from "vitest";
import { type Child, CLI, FLAKY, NODE, runCli, startNode, tempDir, writeConfig } from "./helpers.js";

const children: Child[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

describe("scheduled chaos in the proxy", { timeout: 60_000 }, () => {
  it("agentSre.chaos.schedules are served on /chaos and driven by agent-sre chaos list|run|history", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY] } },
      agentSre: {
        chaos: {
          schedules: [
            {
              name: "tuesday-errors",
              cron: "0 10 * * 2",
              timezone: "Europe/Berlin",
              experiment: { durationMs: "5m", faults: [{ type: "error", target: "tool:*", rate: 0.5 }] },
            },
          ],
          blackouts: [{ name: "freeze-2020", from: "2020-12-20T00:00:00Z", to: "2021-01-04T00:00:00Z" }],
        },
      },
    });
    expect((await runCli(["validate", config])).code).toBe(0);
    const bad = writeConfig(
      dir,
      {
        mcpServers: { f: { command: "x" } },
        agentSre: {
          chaos: {
            schedules: [
              { name: "s", cron: "61 * * * *", experiment: { faults: [{ type: "error" }] }, every: 1 },
            ],
          },
        },
      },
      "bad.json",
    );
    const invalid = await runCli(["validate", bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/agentSre\.chaos\.schedules\[0\]/);

    const proxy = startNode([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"]);
    children.push(proxy);
    const url = (await proxy.waitFor(/serving Streamable HTTP on (http:\S+\/mcp)/))[1] as string;

    const list = await runCli(["chaos", "list", "--url", url]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /tuesday-errors\s+0 10 \* \* 2\s+Europe\/Berlin\s+\d{4}-\d\d-\d\dT\d\d:00:00\.000Z\s+armed/,
    );

    const run = await runCli(["chaos", "run", "tuesday-errors", "--url", url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/started "tuesday-errors"/);
    // Overlap: a second run while the first goes on is refused and recorded.
    const again = await runCli(["chaos", "run", "tuesday-errors", "--url", url]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/did not start "tuesday-errors": the previous run .* is still running/);

    const history = await runCli(["chaos", "history", "--url", url, "--json"]);
    const runs = JSON.parse(history.stdout) as Array<{ outcome: string; manual: boolean }>;
    expect(runs.map((r) => r.outcome)).toEqual(["skipped", "running"]);
    expect(runs.every((r) => r.manual)).toBe(true);
    expect((await runCli(["chaos", "run", "nope", "--url", url])).stderr).toMatch(
      /no chaos schedule named "nope"/,
    );
  });
});
