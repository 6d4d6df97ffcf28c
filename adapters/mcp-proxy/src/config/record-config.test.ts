import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigFileError, parseConfig } from "./load.js";

const servers = { mcpServers: { files: { command: "node", args: ["server.js"] } } };

function issuesOf(document: unknown): Array<{ path: string; message: string }> {
  try {
    parseConfig(document);
  } catch (error) {
    if (error instanceof ConfigFileError) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigFileError");
}

describe("agentSre.record", () => {
  it("accepts a trace folder (resolved against the config's folder), sampling, limits and redaction", () => {
    const config = parseConfig(
      {
        ...servers,
        agentSre: {
          record: {
            dir: "traces",
            sampling: { rate: 0.25 },
            maxRunBytes: 1_000_000,
            runIdleMs: "5m",
            redact: { keys: ["ssn"], paths: ["request.card"] },
          },
        },
      },
      { baseDir: "/srv/agents" },
    );
    expect(config.agentSre.record).toMatchObject({
      dir: join("/srv/agents", "traces"),
      sampling: { rate: 0.25 },
    });
    expect(parseConfig({ ...servers, agentSre: { record: false } }).agentSre.record).toBe(false);
  });

  it("is strict: every problem is named with its path", () => {
    const issues = issuesOf({
      ...servers,
      agentSre: {
        record: { dir: "", sampling: "most", maxRunBytes: -1, redact: { fields: ["x"] }, bogus: 1 },
      },
    });
    const paths = issues.map((issue) => issue.path);
    expect(paths.sort()).toEqual([
      "agentSre.record.bogus",
      "agentSre.record.dir",
      "agentSre.record.maxRunBytes",
      "agentSre.record.redact.fields",
      "agentSre.record.sampling",
    ]);
  });
});
