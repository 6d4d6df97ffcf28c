import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { compileGlob, compileTarget, matchesTarget, parseTarget } from "./target.js";

const tool = (name: string, agentId = "agent-1") => ({ agentId, kind: "tool" as const, name });
const model = (name: string, agentId = "agent-1") => ({ agentId, kind: "model" as const, name });

describe("parseTarget", () => {
  it("splits known scopes and keeps other colons in bare patterns", () => {
    expect(parseTarget("tool:search")).toEqual({ scope: "tool", pattern: "search" });
    expect(parseTarget("model:gpt-*")).toEqual({ scope: "model", pattern: "gpt-*" });
    expect(parseTarget("agent:billing-*")).toEqual({ scope: "agent", pattern: "billing-*" });
    expect(parseTarget("*")).toEqual({ scope: "any", pattern: "*" });
    expect(parseTarget("ollama:llama3")).toEqual({ scope: "any", pattern: "ollama:llama3" });
  });

  it("rejects empty targets and empty patterns, naming the field", () => {
    expect(() => parseTarget("", "faults[0].target")).toThrow(ConfigError);
    expect(() => parseTarget("tool:")).toThrow(/Invalid target: "tool:"/);
    expect(() => parseTarget(42)).toThrow(ConfigError);
    try {
      parseTarget("  ", "faults[1].target");
    } catch (error) {
      expect((error as ConfigError).field).toBe("faults[1].target");
    }
  });
});

describe("target matching", () => {
  it("tool: matches only tool calls with that name", () => {
    expect(matchesTarget("tool:search", tool("search"))).toBe(true);
    expect(matchesTarget("tool:search", tool("search2"))).toBe(false);
    expect(matchesTarget("tool:search", model("search"))).toBe(false);
    expect(matchesTarget("tool:*", tool("anything"))).toBe(true);
    expect(matchesTarget("tool:*", model("gpt-4o"))).toBe(false);
  });

  it("model: matches model ids with wildcards", () => {
    expect(matchesTarget("model:gpt-*", model("gpt-4o"))).toBe(true);
    expect(matchesTarget("model:gpt-*", model("claude-3"))).toBe(false);
    expect(matchesTarget("model:gpt-*", tool("gpt-tool"))).toBe(false);
    expect(matchesTarget("model:*-mini", model("gpt-4o-mini"))).toBe(true);
    expect(matchesTarget("model:claude-*-sonnet*", model("claude-3-5-sonnet-latest"))).toBe(true);
    expect(matchesTarget("model:claude-*-sonnet*", model("claude-3-5-haiku"))).toBe(false);
  });

  it("agent: matches every call of the matching agents", () => {
    expect(matchesTarget("agent:billing-*", tool("search", "billing-eu"))).toBe(true);
    expect(matchesTarget("agent:billing-*", model("gpt-4o", "billing-us"))).toBe(true);
    expect(matchesTarget("agent:billing-*", model("gpt-4o", "support-1"))).toBe(false);
  });

  it("a bare pattern matches the call name or the agent id", () => {
    expect(matchesTarget("search", tool("search", "x"))).toBe(true);
    expect(matchesTarget("billing-*", tool("search", "billing-1"))).toBe(true);
    expect(matchesTarget("gpt-*", model("gpt-4o", "x"))).toBe(true);
    expect(matchesTarget("gpt-*", model("claude", "x"))).toBe(false);
    expect(matchesTarget("*", model("m", "a"))).toBe(true);
  });

  it("treats regex metacharacters literally and is case-sensitive", () => {
    expect(matchesTarget("model:gpt-4.1*", model("gpt-4.1-mini"))).toBe(true);
    expect(matchesTarget("model:gpt-4.1*", model("gpt-4x1-mini"))).toBe(false);
    expect(matchesTarget("tool:a(b)*", tool("a(b)c"))).toBe(true);
    expect(matchesTarget("tool:Search", tool("search"))).toBe(false);
  });

  it("compileTarget exposes the parsed parts", () => {
    const matcher = compileTarget("tool:search");
    expect(matcher.scope).toBe("tool");
    expect(matcher.pattern).toBe("search");
    expect(matcher.target).toBe("tool:search");
  });

  it("property: a pattern made by replacing parts of a string with * matches that string", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean()),
        (parts, stars) => {
          const text = parts.join("");
          const pattern = parts.map((part, i) => (stars[i] ? "*" : part)).join("");
          if (pattern.length === 0) return true;
          return compileGlob(pattern)(text);
        },
      ),
    );
  });

  it("property: a pattern without * matches only the identical string", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => !s.includes("*")),
        fc.string(),
        (pattern, other) => {
          const glob = compileGlob(pattern);
          return glob(pattern) && glob(other) === (other === pattern);
        },
      ),
    );
  });
});
