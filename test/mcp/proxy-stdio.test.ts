import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  decisionOf,
  EVERYTHING,
  eventually,
  FILESYSTEM,
  FLAKY,
  NODE,
  newClient,
  runCli,
  type StdioProxy,
  stdioProxy,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

const open: StdioProxy[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close().catch(() => {})));
});
async function proxy(args: string[], options: Parameters<typeof stdioProxy>[1] = {}) {
  const p = await stdioProxy(args, options);
  open.push(p);
  return p;
}

describe("the proxy over stdio in front of @modelcontextprotocol/server-everything", {
  timeout: 60_000,
}, () => {
  let direct: Client;
  let via: StdioProxy;

  beforeAll(async () => {
    const { client } = newClient("e2e-client");
    direct = client;
    await direct.connect(
      new StdioClientTransport({
        command: NODE,
        args: [EVERYTHING],
        stderr: "pipe",
        env: { PATH: process.env.PATH ?? "" },
      }),
    );
    via = await stdioProxy(["proxy", "--", NODE, EVERYTHING]);
  });
  afterAll(async () => {
    await direct?.close();
    await via?.close();
  });

  it("is transparent: same server info, tools (raw schemas), prompts, resources and templates as direct", async () => {
    expect(via.client.getServerVersion()).toEqual(direct.getServerVersion());
    expect(via.client.getInstructions()).toEqual(direct.getInstructions());
    const caps = via.client.getServerCapabilities();
    const directCaps = direct.getServerCapabilities();
    expect(caps?.logging).toEqual(directCaps?.logging);
    expect(caps?.prompts).toEqual(directCaps?.prompts);
    expect(caps?.resources).toEqual(directCaps?.resources);
    expect(caps?.completions).toEqual(directCaps?.completions);
    expect(await via.client.listTools()).toEqual(await direct.listTools());
    expect(await via.client.listPrompts()).toEqual(await direct.listPrompts());
    expect(await via.client.listResources()).toEqual(await direct.listResources());
    expect(await via.client.listResourceTemplates()).toEqual(await direct.listResourceTemplates());
    const uri = (await direct.listResources()).resources[0]?.uri as string;
    expect(await via.client.readResource({ uri })).toEqual(await direct.readResource({ uri }));
    const prompt = { name: "args-prompt", arguments: { city: "Paris", state: "TX" } };
    expect(await via.client.getPrompt(prompt)).toEqual(await direct.getPrompt(prompt));
  });

  it("returns structured, annotated and binary content exactly as the server does", async () => {
    for (const call of [
      { name: "get-structured-content", arguments: { location: "Chicago" } },
      { name: "get-tiny-image", arguments: {} },
      { name: "get-annotated-message", arguments: { messageType: "error", includeImage: true } },
      { name: "get-sum", arguments: { a: 2, b: 40 } },
    ]) {
      expect(await via.client.callTool(call)).toEqual(await direct.callTool(call));
    }
  });

  it("relays progress with the client's token, sampling, elicitation and roots", async () => {
    const progress: number[] = [];
    const long = await via.client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 0.2, steps: 4 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(textOf(long)).toMatch(/Long running operation completed/);
    // The last step's progress and the result leave server-everything back to back; the SDK client handles
    // responses before notifications of the same read, so it may drop that last one (directly, too).
    expect(progress.slice(0, 3)).toEqual([1, 2, 3]);
    const sampled = await via.client.callTool({
      name: "trigger-sampling-request",
      arguments: { prompt: "hi", maxTokens: 5 },
    });
    expect(textOf(sampled)).toMatch(/a sampled answer/);
    const elicited = await via.client.callTool({ name: "trigger-elicitation-request", arguments: {} });
    expect(textOf(elicited)).toMatch(/decline/i);
    const roots = await via.client.callTool({ name: "get-roots-list", arguments: {} });
    expect(textOf(roots)).toMatch(/file:\/\/\/e2e-root/);
  });

  it("keeps upstream errors intact and answers unknown tools with invalid params", async () => {
    const bad = { name: "get-sum", arguments: { a: "x", b: 1 } };
    expect(await via.client.callTool(bad)).toEqual(await direct.callTool(bad));
    await expect(via.client.callTool({ name: "no-such-tool", arguments: {} })).rejects.toThrow(
      /^MCP error -32602: Unknown tool: no-such-tool$/,
    );
  });

  it("forwards logging/setLevel and completions", async () => {
    await expect(via.client.setLoggingLevel("error")).resolves.toEqual({});
    const completion = {
      ref: { type: "ref/prompt" as const, name: "completable-prompt" },
      argument: { name: "department", value: "E" },
    };
    expect(await via.client.complete(completion)).toEqual(await direct.complete(completion));
  });
});

describe("the proxy over stdio with a config: real servers, supervision, breakers, timeouts, drift, audit", {
  timeout: 60_000,
}, () => {
  it("aggregates server-filesystem and our server under prefixed names; children get a minimal environment", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    const config = writeConfig(dir, {
      mcpServers: {
        fs: { command: NODE, args: [FILESYSTEM, data] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the proxy expands ${VAR} in configs
        flaky: { command: NODE, args: [FLAKY], env: { FLAKY_NAMED: "${NAMED_VALUE}" } },
      },
    });
    await import("node:fs").then((fs) => fs.mkdirSync(data));
    const p = await proxy(["proxy", "--config", config], {
      env: { NAMED_VALUE: "passed", SECRET_TOKEN: "must-not-leak" },
    });
    const names = (await p.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("fs__write_file");
    expect(names).toContain("fs__read_text_file");
    expect(names).toContain("flaky__echo");
    expect(new Set(names).size).toBe(names.length);
    await p.client.callTool({
      name: "fs__write_file",
      arguments: { path: join(data, "note.txt"), content: "through the proxy" },
    });
    expect(readFileSync(join(data, "note.txt"), "utf8")).toBe("through the proxy");
    const read = await p.client.callTool({
      name: "fs__read_text_file",
      arguments: { path: join(data, "note.txt") },
    });
    expect(textOf(read)).toBe("through the proxy");
    const stats = JSON.parse(textOf(await p.client.callTool({ name: "flaky__stats", arguments: {} })));
    expect(stats.env).toContain("FLAKY_NAMED");
    expect(stats.env).toContain("PATH");
    expect(stats.env).not.toContain("SECRET_TOKEN");
    expect(stats.env).not.toContain("NAMED_VALUE");
  });

  it("restarts a crashed server with backoff; in-flight calls get a clear error; the proxy stays up", async () => {
    const dir = tempDir();
    const audit = join(dir, "audit.jsonl");
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY], env: { FLAKY_STATE_DIR: join(dir, "state") } } },
      agentSre: { supervision: { initialDelayMs: 200 }, audit: { file: audit } },
    });
    const p = await proxy(["proxy", "--config", config]);
    const before = JSON.parse(textOf(await p.client.callTool({ name: "stats", arguments: {} })));
    const crashed = await p.client.callTool({ name: "crash", arguments: {} });
    expect(crashed.isError).toBe(true);
    expect(decisionOf(crashed)).toMatchObject({ code: "UPSTREAM_LOST", retryable: true });
    expect(textOf(crashed)).toMatch(/closed the connection while the call was running/);
    const down = await p.client.callTool({ name: "echo", arguments: { text: "now?" } });
    expect(decisionOf(down)).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", retryable: true });
    expect(textOf(down)).toMatch(
      /server process exited: flaky-server: crashing on purpose; restarting.*Retry after 1 s/,
    );
    const back = await eventually(async () => {
      const result = await p.client.callTool({ name: "echo", arguments: { text: "back" } });
      return result.isError ? undefined : result;
    });
    expect(textOf(back)).toBe("echo: back");
    const after = JSON.parse(textOf(await p.client.callTool({ name: "stats", arguments: {} })));
    expect(after.pid).not.toBe(before.pid);
    expect(after.starts).toBe(2);
    await p.close();
    await eventually(async () =>
      readFileSync(audit, "utf8").includes(
        '"tool":"stats","upstreamTool":"stats","decision":"allowed","outcome":"ok"',
      ) && readFileSync(audit, "utf8").trim().split("\n").length >= 5
        ? true
        : undefined,
    );
    const lines = readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      kind: "tool",
      agent: "e2e-client",
      server: "flaky",
      tool: "stats",
      decision: "allowed",
      outcome: "ok",
      costUsd: 0,
      args: {},
    });
    expect(lines[1]).toMatchObject({ tool: "crash", outcome: "unavailable" });
    expect(lines[2]).toMatchObject({
      tool: "echo",
      decision: "refused",
      code: "UPSTREAM_UNAVAILABLE",
      args: { text: "string(4)" },
    });
    for (const line of lines) {
      for (const key of [
        "time",
        "agent",
        "session",
        "server",
        "tool",
        "decision",
        "outcome",
        "latencyMs",
        "costUsd",
        "args",
      ]) {
        expect(line).toHaveProperty(key);
      }
    }
  });

  it("opens a tool's breaker after failures, refuses without calling, then recovers", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      // flaky's isError results report an outage of the tool: its failures (provider), not the caller's.
      mcpServers: { flaky: { command: NODE, args: [FLAKY], "x-agentSre": { isErrorClass: "provider" } } },
      agentSre: { breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: 300 } } },
    });
    const p = await proxy(["proxy", "--config", config]);
    await p.client.callTool({ name: "set_broken", arguments: { broken: true } });
    expect(textOf(await p.client.callTool({ name: "flaky", arguments: { n: 1 } }))).toBe("broken (1)");
    expect(textOf(await p.client.callTool({ name: "flaky", arguments: { n: 2 } }))).toBe("broken (2)");
    const open = await p.client.callTool({ name: "flaky", arguments: { n: 3 } });
    expect(decisionOf(open)).toMatchObject({ code: "CIRCUIT_OPEN", retryable: true });
    const calls = JSON.parse(textOf(await p.client.callTool({ name: "stats", arguments: {} }))).calls;
    expect(calls).toBe(2);
    await p.client.callTool({ name: "set_broken", arguments: { broken: false } });
    // A real process: wait out the (short) recovery timeout.
    const recovered = await eventually(async () => {
      const result = await p.client.callTool({ name: "flaky", arguments: { n: 4 + Math.random() } });
      return result.isError ? undefined : result;
    });
    expect(textOf(recovered)).toMatch(/^fine/);
  });

  it("times a hanging call out and cancels it upstream", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { mcpServers: { flaky: { command: NODE, args: [FLAKY] } } });
    const p = await proxy(["proxy", "--config", config, "--timeout", "300ms"]);
    // The deadline itself (never early, at most 1 % late) is proven on a ManualClock in core's engine tests;
    // here the real processes show what follows from it: the upstream received the call, the client got
    // TIMEOUT instead of waiting for it, and the upstream handler was aborted rather than left running.
    const result = await p.client.callTool({ name: "hang", arguments: {} });
    expect(decisionOf(result).code).toBe("TIMEOUT");
    expect(textOf(result)).toMatch(/timed out after 300 ms and was cancelled/);
    const stats = await eventually(async () => {
      const s = JSON.parse(textOf(await p.client.callTool({ name: "stats", arguments: {} })));
      return s.cancelled === 1 ? s : undefined;
    });
    expect(stats).toMatchObject({ cancelled: 1, calls: 1 });
  });

  it("detects tool drift: reports it, and under block hides the changed tool and refuses calls", async () => {
    const dir = tempDir();
    const pins = join(dir, "pins.json");
    const config = writeConfig(dir, { mcpServers: { flaky: { command: NODE, args: [FLAKY] } } });
    const p = await proxy(["proxy", "--config", config, "--drift", "block", "--pins", pins]);
    expect((await p.client.listTools()).tools.map((t) => t.name)).toContain("echo");
    await p.client.callTool({ name: "mutate", arguments: { mode: "describe" } });
    await eventually(async () => (p.state.listChanged > 0 ? true : undefined));
    expect((await p.client.listTools()).tools.map((t) => t.name)).not.toContain("echo");
    const refused = await p.client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(decisionOf(refused).code).toBe("DRIFT_BLOCKED");
    await p.client.callTool({ name: "mutate", arguments: { mode: "retype" } });
    await eventually(async () => (p.stderr().includes("[critical, blocked]") ? true : undefined));
    expect(p.stderr()).toMatch(
      /tool drift on "flaky" \[info, blocked\]: echo: changed \(info: description changed\)/,
    );
    expect(p.stderr()).toMatch(
      /flaky: changed \(critical: parameter "n" type changed from "number" to "string"\)/,
    );
    expect(JSON.parse(readFileSync(pins, "utf8")).servers.flaky.echo.definition.description).toBe(
      "Echoes its input",
    );
  });
});

describe("the agent-sre binary", { timeout: 30_000 }, () => {
  it("validate names every problem of a bad config file and exits 1", async () => {
    const dir = tempDir();
    const bad = writeConfig(dir, {
      mcpServers: { ok: { command: "node" }, broken: { url: "ftp://nope" }, "with space": { command: "x" } },
      agentSre: { budgets: { perTaskLimitUsd: -1 }, tools: { alow: ["x"] } },
    });
    const result = await runCli(["validate", bad]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mcpServers\.broken\.url: expected an http\(s\) URL, got ftp:/);
    expect(result.stderr).toMatch(/agentSre\.tools\.alow: unknown key \(did you mean "allow"\?\)/);
    const second = writeConfig(
      dir,
      {
        mcpServers: { ok: { command: "node" }, "with space": { command: "x" } },
        agentSre: { budgets: { perTaskLimitUsd: -1 } },
      },
      "b.json",
    );
    const semantic = await runCli(["validate", second]);
    expect(semantic.code).toBe(1);
    expect(semantic.stderr).toMatch(/mcpServers\["with space"\]: a server name must be/);
    expect(semantic.stderr).toMatch(/agentSre\.budgets\.perTaskLimitUsd: invalid value -1/);
    const syntax = join(dir, "broken.json");
    writeFileSync(syntax, '{ "mcpServers": { "a": { "command": "x" } ');
    const syntaxResult = await runCli(["validate", syntax]);
    expect(syntaxResult.code).toBe(1);
    expect(syntaxResult.stderr).toMatch(/\(syntax\)/);
    expect(syntaxResult.stdout).toBe("");
  });

  it("proxy with a bad config exits 1 with the problems on stderr and nothing on stdout", async () => {
    const dir = tempDir();
    const result = await runCli([
      "proxy",
      "--config",
      writeConfig(dir, { mcpServers: { a: { command: "" } } }),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mcpServers\.a\.command: expected a non-empty command/);
    expect(result.stdout).toBe("");
    const usage = await runCli(["proxy", "--bogus"]);
    expect(usage.code).toBe(2);
  });
});
