import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProxyStatus } from "@agent-sre/mcp-proxy";
import { describe, expect, it } from "vitest";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run, serverName } from "./cli.js";
import { renderStatus } from "./status-table.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}, cwd: tmpdir() },
    out,
    err,
  };
}

function config(value: unknown, name = "agent-sre.config.json"): string {
  const file = join(mkdtempSync(join(tmpdir(), "agent-sre-cli-")), name);
  writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
}

describe("agent-sre validate", () => {
  it("accepts a valid config and lists its servers and warnings", async () => {
    const { io, out } = capture();
    const file = config({
      mcpServers: { fs: { command: "npx", args: ["-y", "pkg"] }, web: { url: "http://127.0.0.1:1/mcp" } },
    });
    expect(await run(["validate", file], io)).toBe(EXIT_OK);
    expect(out[0]).toMatch(/valid: 2 servers: fs \(stdio\), web \(auto\)/);
    expect(out[1]).toMatch(/warning: mcpServers\.fs\.args: "pkg" is not pinned/);
  });

  it("prints every problem with its JSON path and exits 1", async () => {
    const { io, err } = capture();
    const file = config({ mcpServers: { a: { args: [1] } }, agentSre: { listen: { htp: 1 } } });
    expect(await run(["validate", file], io)).toBe(EXIT_FAILURE);
    expect(err.join("\n")).toMatch(/invalid: 3 problems/);
    expect(err).toContain('  agentSre.listen.htp: unknown key (did you mean "http"?)');
    expect(err).toContain("  mcpServers.a.args[0]: expected string, received number");
    expect(err.join("\n")).toMatch(/mcpServers\.a: needs a "command"/);
  });

  it("reports every problem of mcpServers and agentSre in one run, in file order", async () => {
    const { io, err } = capture();
    const file = config({
      mcpServers: { a: { comand: "node" }, "b c": { command: "x" } },
      agentSre: {
        budgets: { perTaskLimitUsd: -1, perAgentDailyLimit: 5 },
        listen: { http: "0.0.0.0:7341" },
        chaos: { experiments: [{ name: "x", faults: [{ type: "tool_abuse", rate: 2 }] }] },
      },
    });
    expect(await run(["validate", file], io)).toBe(EXIT_FAILURE);
    expect(err.slice(1)).toEqual([
      expect.stringMatching(/^ {2}mcpServers\.a: needs a "command"/),
      '  mcpServers.a.comand: unknown key (did you mean "command"?)',
      expect.stringMatching(/^ {2}mcpServers\["b c"\]: a server name must be/),
      expect.stringMatching(/^ {2}agentSre\.budgets\.perTaskLimitUsd: invalid value -1/),
      expect.stringMatching(
        /^ {2}agentSre\.budgets\.perAgentDailyLimit: .*did you mean "perAgentDailyLimitUsd"/,
      ),
      expect.stringMatching(/^ {2}agentSre\.listen\.token: required to listen on 0\.0\.0\.0/),
      expect.stringMatching(/^ {2}agentSre\.chaos\.experiments\[0\]\.faults\[0\]\.rate: /),
    ]);
  });

  it("--json gives a machine-readable verdict", async () => {
    const { io, out } = capture();
    expect(await run(["validate", "--json", config("{ nope")], io)).toBe(EXIT_FAILURE);
    expect(JSON.parse(out[0] as string)).toMatchObject({ valid: false, issues: [{ path: "(syntax)" }] });
  });
});

describe("usage errors", () => {
  it("exits 2 with a hint for unknown commands and options; --help exits 0", async () => {
    const unknown = capture();
    expect(await run(["frobnicate"], unknown.io)).toBe(EXIT_USAGE);
    expect(unknown.err[0]).toMatch(/unknown command "frobnicate"\nRun "agent-sre --help"/);
    const badOption = capture();
    expect(await run(["proxy", "--nope"], badOption.io)).toBe(EXIT_USAGE);
    expect(badOption.err[0]).toMatch(/Unknown option '--nope'/);
    const both = capture();
    expect(await run(["proxy", "--config", "x.json", "--", "node", "s.js"], both.io)).toBe(EXIT_USAGE);
    const noConfig = capture();
    expect(await run(["proxy"], { ...noConfig.io, cwd: mkdtempSync(join(tmpdir(), "empty-")) })).toBe(
      EXIT_USAGE,
    );
    expect(noConfig.err[0]).toMatch(/no config/);
    const help = capture();
    expect(await run(["--help"], help.io)).toBe(EXIT_OK);
    expect(help.out[0]).toMatch(/agent-sre proxy --config <file>/);
    const drift = capture();
    expect(await run(["proxy", "--drift", "maybe", "--", "x"], drift.io)).toBe(EXIT_USAGE);
  });

  it("a proxy with an invalid config exits 1 before serving anything", async () => {
    const { io, err } = capture();
    expect(await run(["proxy", "--config", config({ mcpServers: { a: {} } })], io)).toBe(EXIT_FAILURE);
    expect(err[0]).toMatch(/invalid config .*mcpServers\.a: needs a "command"/s);
  });
});

describe("server names in -- mode", () => {
  it("derives a readable name from the command", () => {
    expect(serverName("npx", ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "./data"])).toBe(
      "server-filesystem",
    );
    expect(
      serverName("node", ["/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js"]),
    ).toBe("server-everything");
    expect(serverName("./bin/my-server", [])).toBe("my-server");
    expect(serverName("uvx", ["mcp-server-git"])).toBe("mcp-server-git");
  });
});

describe("agent-sre status", () => {
  const status: ProxyStatus = {
    version: "0.1.0",
    sessions: [{ id: "s1", client: "claude-ai", agent: "claude-ai", tools: 3, upstreams: { fs: "ready" } }],
    upstreams: [
      {
        server: "fs",
        transport: "stdio: npx -y server-filesystem ./data",
        states: { ready: 1 },
        tools: 3,
        restarts: 1,
        shared: false,
        lastError: null,
        lastErrorAt: null,
        breaker: "CLOSED",
        drift: "warn",
      },
    ],
    collisions: [],
    drift: { pinned: { fs: 3 }, reports: [] },
    sre: {
      at: 0,
      budgetEnforced: true,
      agents: {
        "claude-ai": {
          breaker: "CLOSED",
          quarantined: null,
          riskLevel: "LOW",
          calls: 12,
          refused: 2,
          failed: 1,
          unpricedTokens: 0,
          openReservations: 3,
          budget: { spentTodayUsd: 0.0425, limits: { dailyLimitUsd: 5 }, killed: false, throttled: false },
        },
      },
      breakers: {
        breakers: [{ id: "tool:fs__write_file", state: "OPEN", failureCount: 5, retryAfterMs: 12_000 }],
      },
      openCircuits: ["tool:fs__write_file"],
      budget: { org: { spentThisMonthUsd: 1.5, monthlyBudgetUsd: 500 } },
      slos: [],
      chaos: [],
      deploymentsFrozen: false,
      freezeReasons: [],
    },
  };

  it("renders agents, upstreams and circuits as a table", () => {
    const text = renderStatus(status);
    expect(text).toMatch(/agent-sre proxy 0\.1\.0 · 1 session · org spend \$1\.50 of \$500 this month/);
    expect(text).toMatch(/fs\s+stdio: npx -y server-filesystem \.\/data\s+ready\s+3\s+1\s+CLOSED\s+warn\s+-/);
    // calls, in flight (open reservations), refused, failed, ...
    expect(text).toMatch(/claude-ai\s+12\s+3\s+2\s+1\s+CLOSED\s+LOW\s+\$0\.0425\s+\$5\.00\s+ok/);
    expect(text).toMatch(/tool:fs__write_file\s+OPEN\s+5\s+12 s/);
  });

  it("fetches /status (with the token) and reports unreachable proxies", async () => {
    const { io, out } = capture();
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const fakeFetch = (async (url: URL, init: RequestInit) => {
      seen.push({ url: String(url), auth: (init.headers as Record<string, string>).Authorization });
      return new Response(JSON.stringify(status), { status: 200 });
    }) as unknown as typeof fetch;
    expect(
      await run(["status", "--url", "http://127.0.0.1:7341/mcp", "--token", "t"], {
        ...io,
        fetch: fakeFetch,
      }),
    ).toBe(EXIT_OK);
    expect(seen).toEqual([{ url: "http://127.0.0.1:7341/status", auth: "Bearer t" }]);
    expect(out[0]).toMatch(/AGENTS/);

    const down = capture();
    const refused = (async () => {
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    }) as unknown as typeof fetch;
    expect(await run(["status", "--url", "http://127.0.0.1:1"], { ...down.io, fetch: refused })).toBe(
      EXIT_FAILURE,
    );
    expect(down.err[0]).toBe("agent-sre: cannot reach http://127.0.0.1:1/status (ECONNREFUSED)");

    const unauthorized = capture();
    const denied = (async () => new Response("no", { status: 401 })) as unknown as typeof fetch;
    expect(await run(["status", "--url", "http://127.0.0.1:2"], { ...unauthorized.io, fetch: denied })).toBe(
      EXIT_FAILURE,
    );
    expect(unauthorized.err[0]).toMatch(/needs a bearer token/);
    expect(await run(["status"], capture().io)).toBe(EXIT_USAGE);
  });
});
