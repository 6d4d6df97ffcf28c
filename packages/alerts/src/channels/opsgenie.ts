import type { AlertSeverity } from "../alert.js";
import { firingOf, groupHash, type Notification, title, topSeverity, truncate } from "../notification.js";
import { type Channel, type ChannelRequest, JSON_HEADERS, type RenderContext } from "./channel.js";

/**
 * Opsgenie Alert API v2 (https://docs.opsgenie.com/docs/alert-api): `POST /v2/alerts` creates (or, with an
 * open alert of the same `alias`, de-duplicates) while the group fires; `POST /v2/alerts/{alias}/close
 * ?identifierType=alias` when it has resolved; `/acknowledge` on request. Auth: `Authorization: GenieKey
 * <key>`. Opsgenie answers `202 {"result":"Request will be processed",...}`; `422`/`400` are not retried.
 */
export type OpsgeniePriority = "P1" | "P2" | "P3" | "P4" | "P5";

export interface OpsgenieChannelOptions {
  /** An API integration key (a secret). */
  apiKey: string;
  /** API base: default `https://api.opsgenie.com` (`https://api.eu.opsgenie.com` for EU accounts). */
  url?: string;
  /** Our severity → priority. Default page → P1, ticket → P3, info → P5. */
  priority?: Partial<Record<AlertSeverity, OpsgeniePriority>>;
  responders?: Array<{
    type: "team" | "user" | "escalation" | "schedule";
    name?: string;
    id?: string;
    username?: string;
  }>;
  tags?: string[];
  /** `source` field (default `agent-sre`). */
  source?: string;
}

export const OPSGENIE_URL = "https://api.opsgenie.com";
const DEFAULT_PRIORITY: Record<AlertSeverity, OpsgeniePriority> = { page: "P1", ticket: "P3", info: "P5" };

export class OpsgenieChannel implements Channel {
  readonly type = "opsgenie";
  readonly supportsAcknowledge = true;
  readonly secrets: readonly string[];
  readonly #options: OpsgenieChannelOptions;
  readonly #priority: Record<AlertSeverity, OpsgeniePriority>;
  readonly #base: string;

  constructor(options: OpsgenieChannelOptions) {
    this.#options = options;
    this.#priority = { ...DEFAULT_PRIORITY, ...(options.priority ?? {}) };
    this.#base = (options.url ?? OPSGENIE_URL).replace(/\/+$/, "");
    this.secrets = [options.apiKey];
  }

  render(n: Notification, _context: RenderContext): ChannelRequest | undefined {
    const alias = groupHash(n);
    const headers = { ...JSON_HEADERS, authorization: `GenieKey ${this.#options.apiKey}` };
    const source = this.#options.source ?? "agent-sre";
    if (n.action === "acknowledge" || n.status === "resolved") {
      const verb = n.action === "acknowledge" ? "acknowledge" : "close";
      return {
        url: `${this.#base}/v2/alerts/${encodeURIComponent(alias)}/${verb}?identifierType=alias`,
        method: "POST",
        headers,
        body: JSON.stringify({
          source,
          note: n.action === "acknowledge" ? "Acknowledged via Agent SRE" : `Resolved: ${title(n)}`,
        }),
      };
    }
    const firing = firingOf(n);
    const first = firing[0];
    const details: Record<string, string> = { receiver: n.receiver, firing: String(firing.length) };
    for (const [key, value] of Object.entries(n.groupLabels)) details[key] = value;
    const body: Record<string, unknown> = {
      message: truncate(firing.length === 1 && first !== undefined ? first.summary : title(n), 130),
      alias,
      description: truncate(
        firing
          .map(
            (a) => `[${a.severity}] ${a.name}${a.agent === undefined ? "" : ` (${a.agent})`}: ${a.summary}`,
          )
          .join("\n"),
        15_000,
      ),
      tags: [...new Set([...(this.#options.tags ?? []), ...firing.map((a) => a.name)])],
      details,
      source,
      priority: this.#priority[topSeverity(firing)],
    };
    if (first?.agent !== undefined) body.entity = first.agent;
    if (this.#options.responders !== undefined) body.responders = this.#options.responders;
    return { url: `${this.#base}/v2/alerts`, method: "POST", headers, body: JSON.stringify(body) };
  }

  describe(): Record<string, unknown> {
    return { type: this.type, url: this.#base, apiKey: "[redacted]" };
  }
}
