/**
 * Label matchers, as in Alertmanager: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
 * Regexes are anchored (they must match the whole value). A missing label matches as the empty string,
 * so `agent=""` selects alerts without an agent.
 */

export type MatchType = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
}

export interface CompiledMatcher extends Matcher {
  matches(labels: Readonly<Record<string, string>>): boolean;
}

const PATTERN = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

/** Parses `name="value"` (quotes optional) into a matcher; throws `Error` with a readable message. */
export function parseMatcher(text: string): Matcher {
  const match = PATTERN.exec(text);
  if (!match)
    throw new Error(
      `expected a matcher such as agent="support-bot" or alertname=~"Budget.*", got ${JSON.stringify(text)}`,
    );
  let value = match[3] as string;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = JSON.parse(value) as string;
  }
  return { name: match[1] as string, type: match[2] as MatchType, value };
}

export function compileMatcher(matcher: Matcher | string): CompiledMatcher {
  const m = typeof matcher === "string" ? parseMatcher(matcher) : matcher;
  if (typeof m.name !== "string" || m.name === "") throw new Error("a matcher needs a label name");
  if (!["=", "!=", "=~", "!~"].includes(m.type))
    throw new Error(`unknown match type ${JSON.stringify(m.type)}`);
  const { name, type, value } = m;
  let test: (actual: string) => boolean;
  if (type === "=" || type === "!=") {
    test = (actual) => actual === value;
  } else {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${value})$`);
    } catch (error) {
      throw new Error(`invalid regex ${JSON.stringify(value)}: ${(error as Error).message}`);
    }
    test = (actual) => regex.test(actual);
  }
  const negate = type === "!=" || type === "!~";
  return {
    name,
    type,
    value,
    matches: (labels) => test(labels[name] ?? "") !== negate,
  };
}

export function compileMatchers(matchers: ReadonlyArray<Matcher | string> | undefined): CompiledMatcher[] {
  return (matchers ?? []).map(compileMatcher);
}

export function matchAll(
  matchers: readonly CompiledMatcher[],
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const matcher of matchers) if (!matcher.matches(labels)) return false;
  return true;
}

export function formatMatcher(matcher: Matcher): string {
  return `${matcher.name}${matcher.type}${JSON.stringify(matcher.value)}`;
}
