/**
 * Canonical JSON for hashing: object keys sorted (by UTF-16 code units), no whitespace, keys holding
 * `undefined` omitted, numbers in JavaScript's shortest round-trip form. Non-finite numbers and values JSON
 * cannot represent are rejected rather than silently turned into `null`, so two different entries can never
 * serialize alike.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const child = record[key];
        if (child !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(child)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialize a ${typeof value}`);
  }
}
