import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { CompiledCapabilityProfile } from "./capability.js";

describe("CompiledCapabilityProfile", () => {
  it("allows only the allow list when one is given", () => {
    const profile = new CompiledCapabilityProfile({ allowedTools: ["search", "fetch"] });
    expect(profile.check("search")).toBe("allowed");
    expect(profile.check("shell")).toBe("not-in-allow-list");
  });

  it("denies the deny list, which wins over the allow list", () => {
    const profile = new CompiledCapabilityProfile({ allowedTools: ["fs.*"], deniedTools: ["fs.delete"] });
    expect(profile.check("fs.read")).toBe("allowed");
    expect(profile.check("fs.delete")).toBe("denied");
    expect(profile.check("net.get")).toBe("not-in-allow-list");
  });

  it("allows everything not denied when there is no allow list; an empty allow list allows nothing", () => {
    const denyOnly = new CompiledCapabilityProfile({ deniedTools: ["shell*"] });
    expect(denyOnly.check("search")).toBe("allowed");
    expect(denyOnly.check("shell")).toBe("denied");
    expect(denyOnly.check("shell.exec")).toBe("denied");
    const none = new CompiledCapabilityProfile({ allowedTools: [] });
    expect(none.check("search")).toBe("not-in-allow-list");
  });

  it("matches `*` globs anywhere and treats other characters literally", () => {
    const profile = new CompiledCapabilityProfile({ allowedTools: ["*_read", "db.*.query", "a+b", "*"] });
    expect(profile.check("anything")).toBe("allowed");
    const strict = new CompiledCapabilityProfile({ allowedTools: ["*_read", "db.*.query", "a+b"] });
    expect(strict.check("file_read")).toBe("allowed");
    expect(strict.check("db.users.query")).toBe("allowed");
    expect(strict.check("dbXusersXquery")).toBe("not-in-allow-list");
    expect(strict.check("a+b")).toBe("allowed");
    expect(strict.check("aab")).toBe("not-in-allow-list");
    expect(strict.check("file_read_all")).toBe("not-in-allow-list");
  });

  it("rejects malformed lists with a ConfigError naming the entry", () => {
    expect(() => new CompiledCapabilityProfile({ allowedTools: ["ok", ""] })).toThrow(
      /Invalid allowedTools\[1\]: "" \(expected a non-empty tool name\)/,
    );
    expect(() => new CompiledCapabilityProfile({ deniedTools: "shell" as unknown as string[] })).toThrow(
      ConfigError,
    );
  });
});
