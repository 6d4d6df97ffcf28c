/**
 * Secrets (webhook URLs, routing keys, API keys, HMAC keys) come from the environment or from `${VAR}`
 * interpolation in config, and never leave the process in clear: every log line, status view and error
 * message passes through a `Redactor` that knows them.
 */

const VARIABLE = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands `${VAR}`, `${env:VAR}` and `${VAR:-default}`; names of unset variables are reported. */
export function interpolateSecret(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  onMissing: (name: string) => void,
): string {
  return value.replace(VARIABLE, (whole, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    onMissing(name);
    return whole;
  });
}

export const REDACTED = "[redacted]";

export class Redactor {
  readonly #secrets: string[] = [];

  /** Registers secrets; short strings (< 6 characters) are ignored so redaction cannot shred text. */
  add(...secrets: ReadonlyArray<string | undefined>): void {
    for (const secret of secrets) {
      if (secret === undefined || secret.length < 6 || this.#secrets.includes(secret)) continue;
      this.#secrets.push(secret);
      // A URL's path and query also appear alone in some errors.
      try {
        const url = new URL(secret);
        const tail = `${url.pathname}${url.search}`;
        if (tail.length >= 6 && tail !== "/") this.#secrets.push(tail);
      } catch {
        // not a URL
      }
    }
    // Longest first, so a secret containing another is replaced whole.
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }
}
