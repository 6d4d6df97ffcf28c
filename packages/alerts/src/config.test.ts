import { describe, expect, it } from "vitest";
import { parseAlertsConfig } from "./config.js";
import { AlertManager } from "./manager.js";
import { AlertsConfigError } from "./manager-types.js";

describe("alerts config", () => {
  it("names every problem with its path at once, unknown keys with a suggestion", () => {
    const { config, issues } = parseAlertsConfig(
      {
        receivers: {
          pager: { type: "pagerduty", routingKey: "k", severty: { page: "critical" } },
          chat: { type: "slack", url: "https://hooks.slack.com/services/x", timeoutMs: "soon" },
          bad: { type: "carrier-pigeon" },
        },
        route: { receiver: "pager", groupWait: "30s" },
        silences: [{ matchers: [], endsAt: "tomorrow" }],
      },
      { path: "agentSre.alerts" },
    );
    expect(config).toBeUndefined();
    expect(issues).toEqual(
      expect.arrayContaining([
        {
          path: "agentSre.alerts.receivers.pager.severty",
          message: 'unknown key (did you mean "severity"?)',
        },
        {
          path: "agentSre.alerts.receivers.chat.timeoutMs",
          message: expect.stringContaining("expected a duration"),
        },
        { path: "agentSre.alerts.receivers.bad.type", message: expect.any(String) },
        { path: "agentSre.alerts.route.groupWait", message: 'unknown key (did you mean "groupWaitMs"?)' },
        { path: "agentSre.alerts.silences[0].matchers", message: "expected at least one matcher" },
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it("checks references, matchers, URLs, secrets and source names after the shape", () => {
    const { issues } = parseAlertsConfig(
      {
        receivers: {
          pager: { type: "pagerduty", routingKey: "${PD_ROUTING_KEY}" },
          chat: { type: "slack", url: "ftp://example.com/hook" },
          hook: { type: "webhook", url: "not a url" },
        },
        route: { receiver: "pager", routes: [{ receiver: "chta" }, { matchers: ["agent=~(unclosed"] }] },
        inhibitRules: [{ sourceMatchers: ["alertname=BudgetKill"], targetMatchers: ["nope"] }],
        sources: { BreakerOpne: { severity: "page" }, CostAnomaly: false },
      },
      { env: {} },
    );
    expect(issues).toEqual([
      { path: "alerts.receivers.pager.routingKey", message: "variable ${PD_ROUTING_KEY} is not set" },
      { path: "alerts.receivers.chat.url", message: "expected an http(s) URL, got ftp:" },
      { path: "alerts.receivers.hook.url", message: "not a valid URL" },
      {
        path: "alerts.route.routes[0].receiver",
        message: 'unknown receiver "chta" (did you mean "chat"?) (receivers: pager, chat, hook)',
      },
      { path: "alerts.route.routes[1].matchers[0]", message: expect.stringContaining("invalid regex") },
      {
        path: "alerts.inhibitRules[0].targetMatchers[0]",
        message: expect.stringContaining("expected a matcher"),
      },
      {
        path: "alerts.sources.BreakerOpne",
        message: expect.stringContaining('unknown alert (did you mean "BreakerOpen"?)'),
      },
    ]);
  });

  it("needs a route when there is more than one receiver; one receiver gets everything", () => {
    const two = parseAlertsConfig({
      receivers: {
        a: { type: "slack", url: "https://a.example/x" },
        b: { type: "teams", url: "https://b.example/y" },
      },
    });
    expect(two.issues).toEqual([
      { path: "alerts.route", message: "with 2 receivers a route must say which gets what" },
    ]);
    const one = parseAlertsConfig({ receivers: { a: { type: "slack", url: "https://a.example/x" } } });
    expect(one.issues).toEqual([]);
    expect(one.config?.route).toEqual({ receiver: "a" });
  });

  it("expands ${VAR} secrets from the env it is given and applies defaults", () => {
    const { config } = parseAlertsConfig(
      {
        receivers: { pager: { type: "pagerduty", routingKey: "${PD_KEY}", retry: { maxAttempts: 3 } } },
        timeoutMs: "3s",
      },
      { env: { PD_KEY: "abc123abc123" } },
    );
    expect(config?.receivers[0]).toMatchObject({
      name: "pager",
      config: { type: "pagerduty", routingKey: "abc123abc123" },
      timeoutMs: 3_000,
      sendResolved: true,
      retry: { maxAttempts: 3, initialDelayMs: 1_000, maxDelayMs: 300_000, multiplier: 2 },
    });
    expect(config).toMatchObject({ resolveTimeoutMs: 300_000, keepFiringForMs: 0, maxActiveAlerts: 10_000 });
  });

  it("the AlertManager constructor throws a typed error listing every issue", () => {
    let error: unknown;
    try {
      new AlertManager({
        receivers: { x: { type: "slack", url: "nope" } },
        route: { receiver: "y" },
        colour: "red",
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AlertsConfigError);
    expect((error as AlertsConfigError).code).toBe("CONFIG_INVALID");
    expect((error as AlertsConfigError).issues).toEqual([{ path: "alerts.colour", message: "unknown key" }]);
  });
});
