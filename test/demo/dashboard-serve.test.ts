/**
 * `agent-sre demo` prints the live dashboard's address, and with `--serve` keeps serving it after the scenes
 * until interrupted: the page and its state answer for the demo's own engine, and Ctrl-C ends the process.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "packages",
  "cli",
  "bin",
  "agent-sre.js",
);

// Spawns the CLI: an explicit, generous timeout for a loaded machine.
describe("agent-sre demo --serve", { timeout: 120_000 }, () => {
  it("prints the dashboard URL, serves the demo's engine after the scenes, and exits on SIGINT", async () => {
    const child = spawn(process.execPath, [BIN, "demo", "--scene", "loop", "--serve", "--no-color"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const lines: string[] = [];
      const serving = await new Promise<string>((resolve, reject) => {
        child.once("exit", (code) =>
          reject(new Error(`demo exited (${code}) before serving:\n${lines.join("\n")}`)),
        );
        createInterface({ input: child.stdout }).on("line", (line) => {
          lines.push(line);
          const match = /^Serving the dashboard at (\S+) /.exec(line);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
      });
      const printed = lines.find((line) => line.startsWith("Dashboard: "));
      expect(printed).toBe(`Dashboard: ${serving}`);
      expect(serving).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/$/);
      expect(lines.join("\n")).toContain("1/1 failure modes contained");

      const page = await fetch(serving);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Agent SRE demo");
      const state = (await (await fetch(`${serving}api/state`)).json()) as {
        agents: Array<{ id: string; quarantined: unknown }>;
      };
      const bot = state.agents.find((agent) => agent.id === "support-bot");
      expect(bot?.quarantined).not.toBeNull(); // the loop scene quarantined it

      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
