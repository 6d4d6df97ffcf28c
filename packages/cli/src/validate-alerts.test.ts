// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these configs use ${VAR} secrets
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_FAILURE, EXIT_OK, run } from "./cli.js";

function capture(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env, cwd: tmpdir() },
    out,
    err,
  };
}

function config(value: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "agent-sre-cli-alerts-")), "agent-sre.config.json");
  writeFileSync(file, JSON.stringify(value));
  return file;
}

const alerts = {
  receivers: {
    pager: { type: "pagerduty", routingKey: "${PD_KEY}" },
    chat: { type: "slack", url: "${SLACK_URL}" },
  },
  route: { receiver: "chat", routes: [{ severity: "page", receiver: "pager" }] },
};

describe("agent-sre validate: agentSre.alerts", () => {
  it("lists the alert receivers of a valid config", async () => {
    const { io, out } = capture({
      PD_KEY: "R0UTINGKEY0123456789abcdefABCDEF",
      SLACK_URL: "https://hooks.slack.com/services/T/B/x",
    });
    const file = config({ mcpServers: { fs: { command: "node", args: ["fs.js"] } }, agentSre: { alerts } });
    expect(await run(["validate", file], io)).toBe(EXIT_OK);
    expect(out).toContain("  alerts: pager (pagerduty), chat (slack)");
  });

  it("names every alerts problem with its path, with the rest of the file's", async () => {
    const { io, err } = capture({ SLACK_URL: "https://hooks.slack.com/services/T/B/x" });
    const file = config({
      mcpServers: { fs: { command: "node", args: ["fs.js"] } },
      agentSre: {
        alerts: { ...alerts, route: { receiver: "chat", routes: [{ severity: "page", receiver: "pagr" }] } },
      },
    });
    expect(await run(["validate", file], io)).toBe(EXIT_FAILURE);
    expect(err).toEqual([
      `${file}: invalid: 2 problems`,
      "  agentSre.alerts.receivers.pager.routingKey: variable ${PD_KEY} is not set",
      '  agentSre.alerts.route.routes[0].receiver: unknown receiver "pagr" (did you mean "pager"?) (receivers: pager, chat)',
    ]);
  });
});
