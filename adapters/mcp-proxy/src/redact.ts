/**
 * Credentials in upstream URLs (`https://user:pass@host/mcp`, `?api_key=…`) must not reach logs, `/status`
 * or the status table: operators paste those. These helpers mask them wherever a URL is shown.
 */

/** Query parameter names that carry secrets (compared case-insensitively, `-`/`_` ignored). */
const SECRET_PARAMS = new Set([
  "apikey",
  "key",
  "token",
  "accesstoken",
  "authtoken",
  "auth",
  "authorization",
  "secret",
  "clientsecret",
  "password",
  "pass",
  "pwd",
  "sig",
  "signature",
  "session",
  "sessiontoken",
  "code",
  "bearer",
  "jwt",
  "credential",
  "credentials",
  "privatekey",
]);

export const REDACTED = "***";

function secretParam(name: string): boolean {
  const normalized = name.toLowerCase().replace(/[-_]/g, "");
  if (SECRET_PARAMS.has(normalized)) return true;
  return /(key|token|secret|password|signature)$/.test(normalized);
}

/** What in a URL is a credential: the userinfo password, a userinfo user alone, secret query parameters. */
export function urlCredentials(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const found: string[] = [];
  if (parsed.password !== "") found.push("a password in the URL (user:password@)");
  else if (parsed.username !== "") found.push("credentials in the URL (user@)");
  for (const name of new Set(parsed.searchParams.keys())) {
    if (secretParam(name)) found.push(`the query parameter "${name}"`);
  }
  return found;
}

/** The URL with its credentials replaced by `***` (unparseable input goes through `redactText`). */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactText(url);
  }
  if (parsed.password !== "") parsed.password = REDACTED;
  else if (parsed.username !== "") parsed.username = REDACTED;
  let changed = false;
  for (const name of new Set(parsed.searchParams.keys())) {
    if (secretParam(name)) {
      parsed.searchParams.set(name, REDACTED);
      changed = true;
    }
  }
  // URLSearchParams re-encodes "*"; keep the mask readable.
  const out = parsed.toString();
  return changed ? out.replaceAll("%2A%2A%2A", REDACTED) : out;
}

const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s@:]+)(?::([^/\s@]*))?@/gi;
const QUERY_SECRET = /([?&])([A-Za-z0-9_.-]+)=([^&\s#"']*)/g;

/** Masks credentials of every URL-like fragment in free text (error messages, log lines). */
export function redactText(text: string): string {
  if (!text.includes("@") && !text.includes("=")) return text;
  return text
    .replace(USERINFO, (_match, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}${REDACTED}@` : `${scheme}${user}:${REDACTED}@`,
    )
    .replace(QUERY_SECRET, (match, sep: string, name: string) =>
      secretParam(name) ? `${sep}${name}=${REDACTED}` : match,
    );
}
