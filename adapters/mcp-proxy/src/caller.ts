import type { Extra } from "./forwarding.js";
import type { ResolvedIdentity } from "./proxy-context.js";

/** Clients tag retries so they count against the upstream's retry budget (`_meta` key or header). */
export const ATTEMPT_META_KEY = "io.github.agent-sre/attempt";
const ATTEMPT_HEADER = "x-agent-sre-attempt";

type Meta = Record<string, unknown> | undefined;

/** Who is calling: the `_meta` key, else the header (HTTP), else the session's default agent. */
export function agentIdOf(identity: ResolvedIdentity, extra: Extra, meta: Meta, fallback: string): string {
  return named(meta?.[identity.metaKey], extra, identity.header, 128) ?? fallback;
}

/** The task a call belongs to (`_meta` key or header), if the client names one. */
export function taskIdOf(identity: ResolvedIdentity, extra: Extra, meta: Meta): string | undefined {
  return named(meta?.[identity.taskMetaKey], extra, identity.taskHeader, 256);
}

/** Which attempt of a call this is (1 = first; retries tagged by the client count as retries). */
export function attemptOf(extra: Extra, meta: Meta): number {
  const fromMeta = meta?.[ATTEMPT_META_KEY];
  const header = extra.requestInfo?.headers?.[ATTEMPT_HEADER];
  const raw = fromMeta ?? (Array.isArray(header) ? header[0] : header);
  const attempt = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw) : 1;
  return Number.isInteger(attempt) && attempt >= 1 && attempt <= 1_000 ? attempt : 1;
}

function named(fromMeta: unknown, extra: Extra, headerName: string, maxLength: number): string | undefined {
  if (typeof fromMeta === "string" && fromMeta !== "" && fromMeta.length <= maxLength) return fromMeta;
  const header = extra.requestInfo?.headers?.[headerName];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (typeof fromHeader === "string" && fromHeader !== "" && fromHeader.length <= maxLength)
    return fromHeader;
  return undefined;
}
