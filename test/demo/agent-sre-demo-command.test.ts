// `agent-sre demo` as a user runs it: the real CLI binary in a child process.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const bin = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "packages",
  "cli",
  "bin",
  "agent-sre.js",
);

describe("agent-sre demo", () => {
  it("runs one scene through the CLI and prints the machine-readable result", async () => {
    const { stdout } = await run(process.execPath, [bin, "demo", "--scene", "rogue", "--json"], {
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(true);
    expect(result.scenes).toHaveLength(1);
    const ops = result.agents.find((entry: { agent: string }) => entry.agent === "ops-agent");
    expect(ops).toMatchObject({ quarantined: true });
    expect(ops.blocked).toBeGreaterThan(0);
  }, 90_000);

  it("lists the scenes and rejects an unknown one with a usage error", async () => {
    const { stdout } = await run(process.execPath, [bin, "demo", "--list"]);
    expect(stdout).toMatch(/cascade/);
    await expect(run(process.execPath, [bin, "demo", "--scene", "nope"])).rejects.toMatchObject({ code: 2 });
  });
});
