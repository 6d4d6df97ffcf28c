// Issue 6: the official MCP conformance server scenarios (@modelcontextprotocol/conformance, its real CLI) that
// pass against an upstream directly must pass through the Agent SRE proxy too. The upstream is
// conformance-upstream.mjs (Streamable HTTP on 127.0.0.1); the proxy is the real `agent-sre proxy` CLI in front
// of it (one upstream, so tool and prompt names stay unprefixed). The runner needs Node 22 (fs.globSync): this
// file runs in the Node 22 leg (run.mjs).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain ESM module without types (it also runs standalone: `node conformance-upstream.mjs`)
import { startConformanceUpstream } from "./conformance-upstream.mjs";

type Status = "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
interface Check {
  id: string;
  status: Status;
  errorMessage?: string;
}
/** scenario → its checks, as the runner saved them in `<outputDir>/server-<scenario>-<timestamp>/checks.json`. */
type Results = Map<string, Check[]>;

const require = createRequire(import.meta.url);
const RUNNER = join(
  dirname(require.resolve("@modelcontextprotocol/conformance/package.json")),
  "dist/index.js",
);
const CLI = join(dirname(require.resolve("@agent-sre/cli")), "../bin/agent-sre.js"); // the package exports dist/index.js

const work = mkdtempSync(join(tmpdir(), "agent-sre-conformance-"));
let upstream: { url: string; close(): Promise<void> };
let proxy: ChildProcess;
let direct: Results;
let proxied: Results;

/** Runs every server scenario (`--suite all`, one after another) against `url`; resolves to the saved checks. */
function runSuite(url: string, name: string): Promise<Results> {
  const outputDir = join(work, name);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [RUNNER, "server", "--url", url, "--suite", "all", "-o", outputDir],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    // Exit code 1 just means some scenario failed: the checks say which.
    child.on("exit", (code) => {
      if (code !== 0 && code !== 1) return reject(new Error(`conformance exited ${code}:\n${output}`));
      const results: Results = new Map();
      for (const dir of readdirSync(outputDir)) {
        const scenario = /^server-(.+)-\d{4}-\d\d-\d\dT/.exec(dir)?.[1];
        if (scenario)
          results.set(scenario, JSON.parse(readFileSync(join(outputDir, dir, "checks.json"), "utf8")));
      }
      resolve(results);
    });
  });
}

/** Starts `agent-sre proxy --config … --http 127.0.0.1:0` and resolves to the MCP URL it logs. */
function startProxy(upstreamUrl: string): Promise<string> {
  const config = join(work, "agent-sre.config.json");
  writeFileSync(config, JSON.stringify({ mcpServers: { conformance: { url: upstreamUrl } } }));
  proxy = spawn(process.execPath, [CLI, "proxy", "--config", config, "--http", "127.0.0.1:0", "--no-stdio"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let log = "";
    proxy.stderr?.on("data", (chunk) => {
      log += chunk;
      const url = /serving Streamable HTTP on (http:\/\/\S+\/mcp)/.exec(log)?.[1];
      if (url) resolve(url);
    });
    proxy.on("exit", (code) => reject(new Error(`agent-sre proxy exited ${code}:\n${log}`)));
  });
}

/**
 * Checks the runner makes only of SSE answers: given JSON it reports them as INFO ("Server returned JSON …
 * SSE streaming is optional") or skips them ("priming event tests not applicable").
 */
const SSE_ONLY_CHECKS = [
  "server-sse-streams-functional",
  "server-sse-priming-event",
  "server-sse-retry-field",
];
const failures = (checks: Check[]) => checks.filter((c) => c.status === "FAILURE");
const passes = (checks: Check[]) =>
  failures(checks).length === 0 && checks.some((c) => c.status === "SUCCESS");
/** The verdicts of a scenario's checks (INFO entries are request/response traces, not verdicts). */
const verdicts = (checks: Check[] = []) =>
  Object.fromEntries(checks.filter((c) => c.status !== "INFO").map((c) => [c.id, c.status]));

beforeAll(async () => {
  upstream = await startConformanceUpstream();
  const proxyUrl = await startProxy(upstream.url);
  // The two runs use separate sessions, so they can run side by side.
  [direct, proxied] = await Promise.all([runSuite(upstream.url, "direct"), runSuite(proxyUrl, "proxied")]);
}, 50_000);

afterAll(async () => {
  proxy?.kill("SIGTERM");
  await upstream?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("MCP conformance server scenarios: directly and through agent-sre proxy", () => {
  it("the upstream passes every scenario directly (so the comparison is not vacuous)", () => {
    expect(direct.size).toBe(32);
    expect(
      [...direct].flatMap(([scenario, checks]) => failures(checks).map((c) => `${scenario}: ${c.id}`)),
    ).toEqual([]);
    // server-sse-polling has no SUCCESS check either way: the runner posts with protocol version 2025-03-26, for
    // which the SDK's transport sends no priming event or retry field, so its checks are WARNING/INFO only.
    const passing = [...direct].filter(([, checks]) => passes(checks)).map(([scenario]) => scenario);
    expect(passing.length).toBe(31);
    expect(passing).not.toContain("server-sse-polling");
  });

  it("every scenario that passes directly passes through the proxy, check for check", () => {
    const broken = [];
    for (const [scenario, checks] of direct) {
      if (scenario === "dns-rebinding-protection") continue; // the proxy's own listener: asserted below
      const through = proxied.get(scenario) ?? [];
      if (passes(checks) && !passes(through)) {
        broken.push({
          scenario,
          failures: failures(through).map((c) => `${c.id}: ${c.errorMessage ?? ""}`),
        });
      }
    }
    expect(broken).toEqual([]);
    // Stronger: every verdict (SUCCESS and WARNING alike) is the same through the proxy, except checks that
    // only apply to SSE answers: the proxy answers a request as plain JSON unless something streams before the
    // answer (the spec allows either), and the runner then reports them as not applicable (INFO).
    const mismatches = [];
    for (const [scenario, checks] of direct) {
      if (scenario === "dns-rebinding-protection") continue;
      const through = proxied.get(scenario) ?? [];
      const expected = verdicts(checks);
      for (const id of SSE_ONLY_CHECKS) {
        if (expected[id] === undefined) continue;
        expect(through.find((c) => c.id === id)?.status ?? "INFO").toBe("INFO");
        delete expected[id];
      }
      const actual = verdicts(through);
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        mismatches.push({ scenario, expected, actual });
    }
    expect(mismatches).toEqual([]);
  });

  it("dns-rebinding-protection holds on the proxy's own HTTP listener", () => {
    // Through the proxy the runner's forged Host/Origin headers reach the proxy's listener, never the upstream
    // (the proxy makes its own requests upstream), so this scenario tests the proxy's DNS-rebinding protection.
    const checks = proxied.get("dns-rebinding-protection") ?? [];
    expect(verdicts(checks)).toEqual({
      "localhost-host-rebinding-rejected": "SUCCESS",
      "localhost-host-valid-accepted": "SUCCESS",
    });
  });
});
