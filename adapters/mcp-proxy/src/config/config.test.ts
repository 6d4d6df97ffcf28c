// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} expansion
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { interpolateString } from "./interpolate.js";
import { parseJsonc } from "./jsonc.js";
import { buildExperiment, ConfigFileError, loadConfigFile, parseConfig, parseListenAddress } from "./load.js";

function issuesOf(run: () => unknown): Array<{ path: string; message: string }> {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigFileError) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigFileError");
}

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "agent-sre-config-")), name);
  writeFileSync(path, text);
  return path;
}

describe("variable expansion", () => {
  const env = { HOME: "/home/ada", TOKEN: "s3cret", EMPTY: "" };
  it("expands ${VAR}, ${VAR:-default}, ${env:VAR} and leaves unset ones literal", () => {
    const unresolved: string[] = [];
    expect(interpolateString("${HOME}/x", { env })).toBe("/home/ada/x");
    expect(interpolateString("Bearer ${env:TOKEN}", { env })).toBe("Bearer s3cret");
    expect(interpolateString("${MISSING:-fallback}", { env })).toBe("fallback");
    expect(interpolateString("${EMPTY:-fallback}", { env })).toBe("fallback");
    expect(interpolateString("${EMPTY}", { env })).toBe("");
    expect(interpolateString("${MISSING}", { env }, (v) => unresolved.push(v))).toBe("${MISSING}");
    expect(interpolateString("${workspaceFolder}/data", { env, workspaceFolder: "/proj" })).toBe(
      "/proj/data",
    );
    expect(unresolved).toEqual(["MISSING"]);
  });
});

describe("JSONC", () => {
  it("accepts comments and trailing commas, and names the line of a syntax error", () => {
    expect(parseJsonc('{\n // a comment\n "a": [1, 2,], /* b */ "s": "http://x//y",\n}')).toEqual({
      a: [1, 2],
      s: "http://x//y",
    });
    expect(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}')).toThrow(/line 3, column 3/);
  });
});

describe("config files", () => {
  it("reads a Claude Desktop config unchanged: stdio, env, expansion, inferred transports", () => {
    const config = parseConfig(
      {
        mcpServers: {
          fs: {
            command: "npx",
            args: ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "${HOME}/data"],
            env: { LOG: "1" },
          },
          search: { url: "http://127.0.0.1:8931/mcp", headers: { Authorization: "Bearer ${TOKEN}" } },
          legacy: { type: "sse", url: "http://127.0.0.1:9000/sse" },
          off: { command: "x", disabled: true },
        },
      },
      { env: { HOME: "/home/ada", TOKEN: "t0k" }, baseDir: "/cfg" },
    );
    expect(config.upstreams).toEqual([
      {
        name: "fs",
        transport: {
          type: "stdio",
          command: "npx",
          args: ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/home/ada/data"],
          env: { LOG: "1" },
        },
      },
      {
        name: "search",
        transport: {
          type: "auto",
          url: "http://127.0.0.1:8931/mcp",
          headers: { Authorization: "Bearer t0k" },
        },
      },
      { name: "legacy", transport: { type: "sse", url: "http://127.0.0.1:9000/sse", headers: {} } },
    ]);
    expect(config.warnings).toEqual([{ path: "mcpServers.off", message: "disabled: not started" }]);
  });

  it("reads VS Code's `servers` (JSONC) and YAML files", () => {
    const vscode = loadConfigFile(
      file(
        "mcp.json",
        '// VS Code\n{ "servers": { "gh": { "type": "http", "url": "https://example.test/mcp", }, }, "inputs": [] }',
      ),
    );
    expect(vscode.upstreams[0]).toEqual({
      name: "gh",
      transport: { type: "http", url: "https://example.test/mcp", headers: {} },
    });
    const yaml = loadConfigFile(
      file(
        "agent-sre.config.yaml",
        "mcpServers:\n  echo:\n    command: node\n    args: [server.js]\n    cwd: ./srv\nagentSre:\n  tools:\n    deny: [shell_*]\n  audit:\n    file: logs/audit.jsonl\n",
      ),
    );
    expect(yaml.upstreams[0]?.transport).toMatchObject({
      type: "stdio",
      command: "node",
      cwd: join(yaml.baseDir, "srv"),
    });
    expect(yaml.agentSre.tools?.deny).toEqual(["shell_*"]);
    expect(yaml.agentSre.audit).toEqual({ file: join(yaml.baseDir, "logs/audit.jsonl") });
  });

  it("names the JSON path of every problem", () => {
    const issues = issuesOf(() =>
      parseConfig(
        {
          mcpServers: {
            ok: { command: "node" },
            noTransport: { args: ["x"] },
            both: { command: "node", url: "http://x" },
            badUrl: { url: "not a url" },
            ftp: { url: "ftp://x/y" },
            "bad name!": { command: "x" },
            typed: { command: "node", args: "server.js" },
            ext: { command: "node", "x-agentSre": { timeoutMs: "soon", drift: "panic" } },
          },
          agentSre: {
            tool: { deny: ["x"] },
            tools: { costs: { x: -1 }, hideDenied: "yes" },
            listen: { http: "localhost:99999", token: "short" },
            rateLimits: [{ tools: "x" }],
            drift: { policy: "ignore" },
          },
        },
        { env: {} },
      ),
    );
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath["mcpServers.noTransport"]).toMatch(/needs a "command" .* or a "url"/);
    expect(byPath["mcpServers.both"]).toMatch(/both "command" and "url"/);
    expect(byPath["mcpServers.badUrl.url"]).toMatch(/not a valid URL/);
    expect(byPath["mcpServers.ftp.url"]).toMatch(/expected an http\(s\) URL/);
    expect(byPath["mcpServers.typed.args"]).toMatch(/expected array/);
    expect(byPath["mcpServers.ext.x-agentSre.timeoutMs"]).toMatch(/duration/);
    expect(byPath["mcpServers.ext.x-agentSre.drift"]).toMatch(/expected one of "warn"\|"block"\|"freeze"/);
    expect(byPath["agentSre.tool"]).toBe('unknown key (did you mean "tools"?)');
    expect(byPath["agentSre.tools.costs.x"]).toMatch(/>=0|too small/);
    expect(byPath["agentSre.tools.hideDenied"]).toMatch(/expected boolean/);
    expect(byPath["agentSre.listen.token"]).toMatch(/at least 16 characters/);
    expect(byPath["agentSre.rateLimits[0].limit"]).toMatch(/expected number/);
    expect(byPath["agentSre.drift.policy"]).toBeDefined();
  });

  it("reports server-name and listen-address problems after the schema passes", () => {
    const issues = issuesOf(() =>
      parseConfig({
        mcpServers: { "bad name": { command: "x" } },
        agentSre: { listen: { http: "localhost:99999" } },
      }),
    );
    expect(issues).toEqual([
      { path: 'mcpServers["bad name"]', message: expect.stringMatching(/1-64 characters/) },
      { path: "agentSre.listen.http", message: 'invalid port in "localhost:99999"' },
    ]);
  });

  it("checks engine sections with the engine itself and reports the exact field", () => {
    const issues = issuesOf(() =>
      parseConfig({
        mcpServers: { a: { command: "x" } },
        agentSre: {
          budgets: { perTaskLimitUsd: -5 },
          breakers: { defaults: { failureThreshold: 0 } },
          chaos: {
            experiments: [{ name: "e", faults: [{ type: "latency", target: "tool:*", delayMs: -1 }] }],
          },
        },
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      expect.stringMatching(/^agentSre\.budgets\.perTaskLimitUsd$/),
      expect.stringMatching(/^agentSre\.breakers\..*failureThreshold$/),
      "agentSre.chaos.experiments[0].faults[0].delayMs",
    ]);
  });

  it("reports every problem in one run, across servers and agentSre, schema and engine alike", () => {
    const issues = issuesOf(() =>
      parseConfig(
        {
          mcpServers: {
            typed: { command: "node", args: "server.js" },
            "bad name": { command: "x" },
            typo: { comand: "node" },
          },
          servers: { vs: { type: "http" } },
          agentSre: {
            tool: { deny: ["x"] },
            budgets: { perTaskLimitUsd: -5, perTaskLimit: 1 },
            breakers: { defaults: { failureThreshold: 0 } },
            listen: { http: "0.0.0.0:7341" },
            chaos: { experiments: [{ name: "e", faults: [{ type: "latency", delayMs: -1 }] }] },
          },
        },
        { env: {} },
      ),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "mcpServers.typed.args",
        'mcpServers["bad name"]',
        "mcpServers.typo.comand",
        "mcpServers.typo",
        "servers.vs.url",
        "agentSre.tool",
        "agentSre.budgets.perTaskLimitUsd",
        "agentSre.budgets.perTaskLimit",
        "agentSre.breakers.defaults.failureThreshold",
        "agentSre.listen.token",
        "agentSre.chaos.experiments[0].faults[0].delayMs",
      ]),
    );
    expect(new Set(paths).size).toBe(paths.length);
  });

  it("rejects unknown keys in server entries; other MCP clients' own keys pass", () => {
    const issues = issuesOf(() =>
      parseConfig({
        mcpServers: {
          a: { command: "node", evn: { X: "1" }, autoApprove: ["read"], alwaysAllow: [], disabledTools: [] },
          b: { serverUrl: "http://127.0.0.1:1/mcp", url: "http://127.0.0.1:1/mcp" },
        },
      }),
    );
    expect(issues).toEqual([
      { path: "mcpServers.a.evn", message: 'unknown key (did you mean "env"?)' },
      { path: "mcpServers.b.serverUrl", message: 'unknown key: the server\'s address goes in "url"' },
    ]);
    const ok = parseConfig({ mcpServers: { a: { command: "node", autoApprove: ["read"], timeout: 60 } } });
    expect(ok.upstreams[0]?.transport).toMatchObject({ type: "stdio", command: "node" });
  });

  it("fails a listen address beyond loopback without a token, as the proxy would refuse to start", () => {
    const config = (listen: Record<string, unknown>) => ({
      mcpServers: { a: { command: "x" } },
      agentSre: { listen },
    });
    expect(issuesOf(() => parseConfig(config({ http: "0.0.0.0:7341" }), { env: {} }))).toEqual([
      { path: "agentSre.listen.token", message: expect.stringMatching(/required to listen on 0\.0\.0\.0/) },
    ]);
    expect(() =>
      parseConfig(config({ http: "0.0.0.0:7341", token: "x".repeat(16) }), { env: {} }),
    ).not.toThrow();
    expect(() =>
      parseConfig(config({ http: "0.0.0.0:7341" }), { env: { AGENT_SRE_TOKEN: "y".repeat(16) } }),
    ).not.toThrow();
    expect(() => parseConfig(config({ http: "127.0.0.1:7341" }), { env: {} })).not.toThrow();
  });

  it("accepts the seed's fault names (privilege_escalation, tool_abuse) and builds our faults", () => {
    const config = parseConfig({
      mcpServers: { a: { command: "x" } },
      agentSre: {
        chaos: {
          experiments: [
            {
              name: "adversarial",
              faults: [
                { type: "privilege_escalation", target: "tool:*" },
                { type: "tool_abuse", target: "tool:*", toolName: "shell_exec" },
                { type: "prompt-injection", target: "tool:*", technique: "direct_override" },
              ],
            },
          ],
        },
      },
    });
    const experiment = buildExperiment(config.agentSre.chaos?.experiments?.[0] as never);
    expect(experiment.faults.map((f) => f.type)).toEqual([
      "privilege-escalation",
      "tool-abuse",
      "prompt-injection",
    ]);
    expect((experiment.faults[2] as { technique: string }).technique).toBe("ignore-previous");
  });

  it("checks agentSre.delivery strictly: every rollout problem at once, with its path", () => {
    const canary = { type: "canary", steps: [{ percent: 10, holdTasks: 5 }, { percent: 100 }] };
    const issues = issuesOf(() =>
      parseConfig({
        mcpServers: { "search-v1": { command: "x" }, "search-v2": { command: "x" } },
        agentSre: {
          delivery: {
            rollouts: [
              {
                id: "ok-shape",
                baseline: { id: "search-v1" },
                candidate: { id: "search-v3", model: "gpt-4o" },
                strategy: canary,
                mirrorPercent: 5,
              },
              {
                id: "typos",
                baseline: { id: "search-v2" },
                candidate: { id: "search-v1" },
                strategy: { ...canary, step: 1 },
                analysis: { minCals: 3 },
              },
            ],
          },
        },
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      "agentSre.delivery.rollouts[0].candidate.id",
      "agentSre.delivery.rollouts[0].candidate.model",
      "agentSre.delivery.rollouts[0].mirrorPercent",
      "agentSre.delivery.rollouts[1].strategy.step",
      "agentSre.delivery.rollouts[1].analysis.minCals",
    ]);
    expect(issues[0]?.message).toMatch(/configured server \(search-v1, search-v2\)/);
    expect(issues[2]?.message).toMatch(/act twice/);
  });

  it("needs at least one server; reports unreadable and malformed files", () => {
    expect(issuesOf(() => parseConfig({ agentSre: {} }))[0]?.message).toMatch(/needs "mcpServers"/);
    expect(issuesOf(() => parseConfig({ mcpServers: {} }))).toEqual([
      { path: "mcpServers", message: "no enabled server" },
    ]);
    expect(issuesOf(() => loadConfigFile("/nonexistent/agent-sre.config.json"))).toEqual([
      { path: "(file)", message: "file not found" },
    ]);
    expect(issuesOf(() => loadConfigFile(file("c.json", '{ "mcpServers": { "a": ')))[0]?.path).toBe(
      "(syntax)",
    );
    expect(issuesOf(() => loadConfigFile(file("c.yaml", "mcpServers: [unclosed")))[0]?.path).toBe("(syntax)");
  });

  it("warns about unset variables and unpinned npx packages", () => {
    const config = parseConfig(
      {
        mcpServers: {
          fs: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/data"] },
          web: { url: "http://127.0.0.1:1/mcp", headers: { Authorization: "Bearer ${WEB_TOKEN}" } },
        },
      },
      { env: {} },
    );
    expect(config.warnings).toEqual([
      {
        path: "mcpServers.web.headers.Authorization",
        message: "variable ${WEB_TOKEN} is not set and has no default (left as is)",
      },
      { path: "mcpServers.fs.args", message: expect.stringMatching(/not pinned to a version/) },
    ]);
  });
});

describe("listen addresses", () => {
  it("parses host:port forms, defaulting to loopback", () => {
    expect(parseListenAddress(7341)).toEqual({ host: "127.0.0.1", port: 7341 });
    expect(parseListenAddress("7341")).toEqual({ host: "127.0.0.1", port: 7341 });
    expect(parseListenAddress(":7341")).toEqual({ host: "127.0.0.1", port: 7341 });
    expect(parseListenAddress("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListenAddress("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(() => parseListenAddress("nope")).toThrow(/host:port/);
  });
});
