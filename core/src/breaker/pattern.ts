/**
 * Override keys: an exact breaker id, or a pattern where `*` matches any run of characters (including none),
 * e.g. `"model:*"`, `"tool:*search*"`. Everything else matches literally.
 */
export function isPattern(key: string): boolean {
  return key.includes("*");
}

export function compilePattern(pattern: string): RegExp {
  const body = pattern
    .split("*")
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "s");
}
