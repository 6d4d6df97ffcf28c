/**
 * Variable expansion as the MCP clients do it: `${VAR}` and `${VAR:-default}` (Claude Code), `${env:VAR}`
 * (Cursor, VS Code) and `${workspaceFolder}` (VS Code: the folder of the config file). A variable that is
 * unset and has no default stays literal (as in Claude Code) and is reported, so `validate` can warn.
 */

export interface InterpolationContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Value of `${workspaceFolder}` (the config file's folder). */
  workspaceFolder?: string;
}

export interface UnresolvedVariable {
  /** JSON path of the string that holds it (e.g. `mcpServers.search.headers.Authorization`). */
  path: string;
  variable: string;
}

const PATTERN = /\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expands the variables in one string; `onUnresolved` hears each one left literal. */
export function interpolateString(
  text: string,
  context: InterpolationContext,
  onUnresolved?: (variable: string) => void,
): string {
  if (!text.includes("${")) return text;
  return text.replace(PATTERN, (whole, body: string) => {
    let name = body;
    let fallback: string | undefined;
    const dash = body.indexOf(":-");
    if (dash >= 0) {
      name = body.slice(0, dash);
      fallback = body.slice(dash + 2);
    }
    if (name === "workspaceFolder" && context.workspaceFolder !== undefined) return context.workspaceFolder;
    if (name.startsWith("env:")) name = name.slice(4);
    if (!NAME.test(name)) {
      onUnresolved?.(body);
      return whole;
    }
    const value = context.env[name];
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    if (value === "") return value;
    onUnresolved?.(name);
    return whole;
  });
}

/** Expands variables in every string of a parsed document (keys are left alone). */
export function interpolateDocument(
  document: unknown,
  context: InterpolationContext,
): { value: unknown; unresolved: UnresolvedVariable[] } {
  const unresolved: UnresolvedVariable[] = [];
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === "string") {
      return interpolateString(value, context, (variable) =>
        unresolved.push({ path: formatPath(path), variable }),
      );
    }
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]));
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = walk(item, [...path, key]);
      return out;
    }
    return value;
  };
  return { value: walk(document, []), unresolved };
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `["mcpServers", "my server", "args", 0]` → `mcpServers["my server"].args[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      out += IDENTIFIER.test(key) ? (out === "" ? key : `.${key}`) : `[${JSON.stringify(key)}]`;
    }
  }
  return out === "" ? "(root)" : out;
}
