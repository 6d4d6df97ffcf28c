import { request } from "node:http";
import { AgentSRE, ChaosExperiment, errorInjection, ManualClock } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import type { AlertControl, DashboardState } from "./feed.js";
import { type DashboardServer, serveDashboard } from "./index.js";

const START = Date.UTC(2026, 0, 5, 9, 0, 0);
const TOKEN = "dashboard-token-0123456789";
const servers: DashboardServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, with full control of Host, Origin and cookies. */
function raw(
  server: DashboardServer,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: options.method ?? "GET",
        headers: { Host: `127.0.0.1:${server.port}`, ...options.headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const ACTION_HEADERS = { "Content-Type": "application/json", "X-Agent-SRE-Action": "1" };

function fleet() {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({
    clock,
    budget: { perTaskLimitUsd: 5, perAgentDailyLimitUsd: 0.01, orgMonthlyBudgetUsd: 100 },
  });
  return { clock, sre };
}

const model = {
  kind: "model" as const,
  agentId: "writer",
  name: "gpt-4o",
  provider: "openai",
  usage: () => ({ inputTokens: 2_000, outputTokens: 1_000 }),
};

describe("dashboard HTTP surface", () => {
  it("serves the page, the state and each agent's decisions; operator actions change the engine", async () => {
    const { sre } = fleet();
    const server = await serveDashboard(sre, { framework: (id) => (id === "writer" ? "AI SDK" : undefined) });
    servers.push(server);
    await sre.guard(model, () => "ok");
    await expect(sre.guard(model, () => "ok")).rejects.toMatchObject({ code: "AGENT_KILLED" });

    const page = await raw(server, "/dashboard/");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.body).toContain('src="/dashboard/app.js"');
    expect((await raw(server, "/dashboard/app.js")).body).toContain("EventSource");

    const state = JSON.parse((await raw(server, "/dashboard/api/state")).body) as DashboardState;
    expect(state.agents).toEqual([
      expect.objectContaining({ id: "writer", framework: "AI SDK", calls: 1, refused: 1, killed: true }),
    ]);
    const decisions = JSON.parse((await raw(server, "/dashboard/api/agents/writer")).body).decisions;
    expect(decisions.map((d: { decision: string; outcome: string }) => `${d.decision}:${d.outcome}`)).toEqual(
      ["refused:AGENT_KILLED", "allowed:ok"],
    );

    const revive = await raw(server, "/dashboard/api/actions/revive", {
      method: "POST",
      headers: ACTION_HEADERS,
      body: JSON.stringify({ agentId: "writer" }),
    });
    expect(revive.status).toBe(200);
    expect(sre.budget.agentStatus("writer").killed).toBe(false);

    sre.quarantine("writer", "test");
    expect(
      (
        await raw(server, "/dashboard/api/actions/release", {
          method: "POST",
          headers: ACTION_HEADERS,
          body: '{"agentId":"writer"}',
        })
      ).status,
    ).toBe(200);
    expect(sre.isQuarantined("writer")).toBe(false);

    sre.breakers.get("model:gpt-4o").forceOpen("test");
    expect(
      (
        await raw(server, "/dashboard/api/actions/reset-breaker", {
          method: "POST",
          headers: ACTION_HEADERS,
          body: '{"breakerId":"model:gpt-4o"}',
        })
      ).status,
    ).toBe(200);
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");

    sre.startExperiment(
      new ChaosExperiment({ name: "drill", faults: [errorInjection("tool:*", { rate: 0.5 })] }),
    );
    const abort = await raw(server, "/dashboard/api/actions/abort-experiment", {
      method: "POST",
      headers: ACTION_HEADERS,
      body: '{"experiment":"drill"}',
    });
    expect(abort.status).toBe(200);
    expect(sre.chaos.hasActive && sre.status().chaos.length > 0).toBe(false);
    const missing = await raw(server, "/dashboard/api/actions/abort-experiment", {
      method: "POST",
      headers: ACTION_HEADERS,
      body: '{"experiment":"drill"}',
    });
    expect(missing.status).toBe(404);
  });

  it("confirm-anomaly: a held agent shows HELD with the anomaly's figures; confirming lets it call again", async () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({
      clock,
      budget: {
        perTaskLimitUsd: 100,
        perAgentDailyLimitUsd: 10_000,
        anomalyDetection: { action: "hold", minSamples: 5 },
      },
    });
    const server = await serveDashboard(sre);
    servers.push(server);
    let n = 0;
    const spend = (costUsd: number) =>
      sre.guard(
        { kind: "tool", agentId: "digest", taskId: `t${n++}`, name: "fetch", estimate: { costUsd } },
        () => "ok",
      );
    for (let i = 0; i < 60; i++) await spend(0.01 * (1 + (i % 3) / 10));
    await spend(0.5);
    await expect(spend(0.01)).rejects.toMatchObject({ code: "ANOMALY_HELD" });

    const state = JSON.parse((await raw(server, "/dashboard/api/state")).body) as DashboardState;
    const row = state.agents.find((agent) => agent.id === "digest");
    expect(row?.held).toMatchObject({ costUsd: 0.5, refusedCalls: 1 });
    expect(row?.held?.score).toBeGreaterThan(4);
    expect(state.alerts.map((alert) => alert.summary)).toContainEqual(
      expect.stringContaining("agent held until confirmed"),
    );

    const confirm = () =>
      raw(server, "/dashboard/api/actions/confirm-anomaly", {
        method: "POST",
        headers: ACTION_HEADERS,
        body: '{"agentId":"digest"}',
      });
    const confirmed = await confirm();
    expect(confirmed.status).toBe(200);
    expect(JSON.parse(confirmed.body).message).toMatch(/confirmed the cost anomaly of digest/);
    expect(sre.budget.isHeld("digest")).toBe(false);
    await spend(0.01);
    expect((await confirm()).status).toBe(409);
    // The same level again is held again (the baseline was kept); "newBaseline" accepts it as the new normal.
    await spend(0.5);
    expect(sre.budget.isHeld("digest")).toBe(true);
    const accepted = await raw(server, "/dashboard/api/actions/confirm-anomaly", {
      method: "POST",
      headers: ACTION_HEADERS,
      body: '{"agentId":"digest","newBaseline":true}',
    });
    expect(accepted.status).toBe(200);
    for (let i = 0; i < 8; i++) await spend(0.5);
    expect(sre.budget.isHeld("digest")).toBe(false);
    const after = JSON.parse((await raw(server, "/dashboard/api/state")).body) as DashboardState;
    expect(after.agents.find((agent) => agent.id === "digest")?.held).toBeNull();
    expect(after.alerts.map((alert) => alert.summary)).toContainEqual(
      "cost anomaly hold confirmed (1 calls refused while held)",
    );
  });

  it("silence-alert: needs an attached alert manager and well-formed matchers; the state shows the silence", async () => {
    const { sre } = fleet();
    const bare = await serveDashboard(sre);
    servers.push(bare);
    const post = (server: DashboardServer, action: string, body: unknown) =>
      raw(server, `/dashboard/api/actions/${action}`, {
        method: "POST",
        headers: ACTION_HEADERS,
        body: JSON.stringify(body),
      });
    expect((await post(bare, "silence-alert", { matchers: ["alertname=X"] })).status).toBe(404);

    const silenced: Array<{ matchers: string[]; durationMs: number; createdBy?: string }> = [];
    const control: AlertControl = {
      status: () => ({
        alerts: [
          {
            fingerprint: "f1",
            name: "BudgetKill",
            severity: "page",
            agent: "writer",
            summary: "killed",
            startsAt: START,
            mutedBy: silenced.length > 0 ? "silenced:s1" : null,
          },
        ],
        silences: silenced.map(() => ({
          id: "s1",
          matchers: [{ name: "alertname", type: "=", value: "BudgetKill" }],
          startsAt: START,
          endsAt: START + 3_600_000,
          createdBy: "dashboard",
          comment: "",
        })),
      }),
      silence: (input) => {
        if (input.matchers.some((m) => !m.includes("="))) throw new Error(`bad matcher ${input.matchers[0]}`);
        silenced.push(input);
        return { id: "s1", endsAt: START + input.durationMs };
      },
      expireSilence: (id) => id === "s1" && silenced.splice(0).length > 0,
      on: () => () => {},
    };
    const server = await serveDashboard(sre, { alerts: control });
    servers.push(server);
    const before = JSON.parse((await raw(server, "/dashboard/api/state")).body) as DashboardState;
    expect(before.actions.silenceAlerts).toBe(true);
    expect(before.managedAlerts?.active[0]).toMatchObject({
      name: "BudgetKill",
      mutedBy: null,
      matchers: ['alertname="BudgetKill"', 'agent="writer"'],
    });
    expect((await post(server, "silence-alert", { matchers: [] })).status).toBe(400);
    expect((await post(server, "silence-alert", { matchers: ["x"], durationMs: -1 })).status).toBe(400);
    expect((await post(server, "silence-alert", { matchers: ["nonsense"] })).status).toBe(400);
    const ok = await post(server, "silence-alert", { matchers: ['alertname="BudgetKill"'] });
    expect(ok.status).toBe(200);
    expect(silenced).toEqual([
      {
        matchers: ['alertname="BudgetKill"'],
        durationMs: 3_600_000,
        createdBy: "dashboard",
        comment: "silenced from the dashboard",
      },
    ]);
    const after = JSON.parse((await raw(server, "/dashboard/api/state")).body) as DashboardState;
    expect(after.managedAlerts?.silences).toEqual([
      {
        id: "s1",
        matchers: ['alertname="BudgetKill"'],
        endsAt: START + 3_600_000,
        createdBy: "dashboard",
        comment: "",
      },
    ]);
    expect((await post(server, "expire-silence", { silenceId: "s1" })).status).toBe(200);
    expect((await post(server, "expire-silence", { silenceId: "s1" })).status).toBe(404);
  });

  it("refuses cross-site and forged actions, foreign Hosts and Origins", async () => {
    const { sre } = fleet();
    const server = await serveDashboard(sre);
    servers.push(server);
    sre.quarantine("a", "test");
    const post = (headers: Record<string, string>) =>
      raw(server, "/dashboard/api/actions/release", { method: "POST", headers, body: '{"agentId":"a"}' });
    // A form post (no JSON, no header), a missing header, a foreign origin, a rebinding Host.
    expect((await post({ "Content-Type": "application/x-www-form-urlencoded" })).status).toBe(403);
    expect((await post({ "Content-Type": "application/json" })).status).toBe(403);
    expect((await post({ ...ACTION_HEADERS, Origin: "https://evil.example" })).status).toBe(403);
    expect((await post({ ...ACTION_HEADERS, "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    expect((await post({ ...ACTION_HEADERS, Host: "evil.example" })).status).toBe(403);
    expect((await raw(server, "/dashboard/api/actions/release")).status).toBe(405);
    expect(sre.isQuarantined("a")).toBe(true);
    expect((await post({ ...ACTION_HEADERS, Origin: `http://127.0.0.1:${server.port}` })).status).toBe(200);
    expect(sre.isQuarantined("a")).toBe(false);
  });

  it("with a token: 401 without it; the page trades ?token= for an HttpOnly SameSite cookie", async () => {
    const { sre } = fleet();
    const server = await serveDashboard(sre, { token: TOKEN });
    servers.push(server);
    expect(server.url).toContain(`?token=${TOKEN}`);
    expect((await raw(server, "/dashboard/")).status).toBe(401);
    expect((await raw(server, "/dashboard/api/state")).status).toBe(401);
    expect((await raw(server, "/dashboard/api/events")).status).toBe(401);
    expect((await raw(server, "/dashboard/?token=wrong-wrong-wrong-wrong")).status).toBe(401);
    expect(
      (await raw(server, "/dashboard/api/state", { headers: { Authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    const login = await raw(server, `/dashboard/?token=${TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe("/dashboard/");
    const cookie = String(login.headers["set-cookie"]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(";")[0] as string;
    expect((await raw(server, "/dashboard/", { headers: { Cookie: session } })).status).toBe(200);
    expect((await raw(server, "/dashboard/api/state", { headers: { Cookie: `${session}x` } })).status).toBe(
      401,
    );
    await expect(serveDashboard(sre, { host: "0.0.0.0" })).rejects.toThrow(/without a bearer token/);
  });

  it("streams state over Server-Sent Events as calls settle", async () => {
    const { sre } = fleet();
    const server = await serveDashboard(sre);
    servers.push(server);
    const frames: DashboardState[] = [];
    let notify: (() => void) | undefined;
    const req = request({
      host: "127.0.0.1",
      port: server.port,
      path: "/dashboard/api/events",
      headers: { Host: `127.0.0.1:${server.port}` },
    });
    const opened = new Promise<void>((resolve, reject) => {
      req.on("response", (res) => {
        expect(res.headers["content-type"]).toMatch(/text\/event-stream/);
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf("\n\n");
          while (end >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = frame.split("\n").find((line) => line.startsWith("data: "));
            if (data !== undefined) {
              frames.push(JSON.parse(data.slice(6)));
              notify?.();
            }
            end = buffer.indexOf("\n\n");
          }
        });
        resolve();
      });
      req.on("error", reject);
    });
    req.end();
    await opened;
    const next = (count: number) =>
      new Promise<void>((resolve) => {
        if (frames.length >= count) return resolve();
        notify = () => {
          if (frames.length >= count) resolve();
        };
      });
    await next(1);
    expect(frames[0]?.agents).toEqual([]);
    await sre.guard({ ...model, agentId: "live" }, () => "ok");
    await next(2);
    expect(frames[1]?.agents[0]).toMatchObject({ id: "live", calls: 1 });
    expect(frames[1]?.revision).toBeGreaterThan(frames[0]?.revision ?? 0);
    req.destroy();
  });
});
