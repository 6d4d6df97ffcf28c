// `pnpm pack` of every public package gives a tarball a user can install: complete metadata, a LICENSE,
// source maps that carry their sources, README links that work on the registry page — and, installed with
// npm into fresh apps outside the workspace next to the real frameworks from the registry, it typechecks
// strictly and runs one guarded call per adapter. Packages are discovered (every workspace package without
// "private": true), so new ones are covered without registering them here.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanEnv,
  exec,
  filesUnder,
  installedSize,
  pack,
  publicPackages,
  unpack,
  type WorkspacePackage,
} from "./workspace-packages.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const packages = publicPackages(root);
const testManifest = JSON.parse(readFileSync(join(here, "../package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};
const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};

let work = "";
const tarballs = new Map<string, string>();
const unpacked = new Map<string, string>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "agent-sre-pack-"));
  await mkdir(join(work, "tarballs"));
  await Promise.all(
    packages.map(async (pkg) => {
      const tarball = await pack(root, pkg, join(work, "tarballs"));
      tarballs.set(pkg.name, tarball);
      unpacked.set(pkg.name, await unpack(tarball, join(work, "unpacked", pkg.name)));
    }),
  );
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

type Manifest = Record<string, unknown> & {
  name: string;
  exports?: Record<string, unknown>;
  bin?: Record<string, string> | string;
};
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

/** Problems with a packed package, as readable lines (empty when all is right). */
function packageProblems(pkg: WorkspacePackage, dir: string): string[] {
  const problems: string[] = [];
  const manifest = manifestOf(dir);
  const files = new Set(filesUnder(dir));
  const has = (path: string) => files.has(path.replace(/^\.\//, ""));
  if (manifest.license !== "MIT") problems.push(`license is ${String(manifest.license)}, expected MIT`);
  if (!has("LICENSE") || !readFileSync(join(dir, "LICENSE"), "utf8").includes("MIT License")) {
    problems.push(
      "no MIT LICENSE file (copy the repository's LICENSE next to package.json, list it in files)",
    );
  }
  if (!has("README.md")) problems.push("no README.md");
  if (manifest.type !== "module") problems.push('"type" is not "module"');
  if (typeof (manifest.engines as { node?: unknown } | undefined)?.node !== "string") {
    problems.push('no "engines.node"');
  }
  if (!("sideEffects" in manifest)) problems.push('no "sideEffects" (false, or the files that have them)');
  if (!Array.isArray(manifest.files)) problems.push('no "files" list');
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, spec] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
      if (spec.startsWith("workspace:") || spec.startsWith("link:") || spec.startsWith("file:")) {
        problems.push(`${field}.${name} is "${spec}" in the tarball`);
      }
    }
  }
  for (const field of ["main", "types"]) {
    const target = manifest[field];
    if (typeof target !== "string" || !has(target))
      problems.push(`"${field}" (${String(target)}) is not packed`);
  }
  const entry = manifest.exports?.["."] as Record<string, string> | undefined;
  if (!entry || typeof entry !== "object") problems.push('no "exports" "." conditions');
  else {
    if (Object.keys(entry)[0] !== "types") problems.push('"exports" "." does not list "types" first');
    for (const [condition, target] of Object.entries(entry)) {
      if (!has(target)) problems.push(`exports "." ${condition} → ${target} is not packed`);
    }
  }
  const bins = typeof manifest.bin === "string" ? { [pkg.name]: manifest.bin } : (manifest.bin ?? {});
  for (const [name, target] of Object.entries(bins)) {
    if (!has(target)) problems.push(`bin ${name} → ${target} is not packed`);
  }
  // Source maps carry their sources, inline or packed next to them.
  for (const map of [...files].filter((file) => file.endsWith(".map"))) {
    const parsed = JSON.parse(readFileSync(join(dir, map), "utf8")) as {
      sources: string[];
      sourceRoot?: string;
      sourcesContent?: (string | null)[];
    };
    parsed.sources.forEach((source, index) => {
      const inline = typeof parsed.sourcesContent?.[index] === "string";
      const path = relative(dir, resolve(dir, dirname(map), parsed.sourceRoot ?? "", source));
      if (!inline && !files.has(path.split("\\").join("/"))) {
        problems.push(`${map}: source ${source} is neither inline nor packed`);
      }
    });
  }
  // README links work on the registry page: absolute, an anchor, or a file inside the package.
  if (has("README.md")) {
    const readme = readFileSync(join(dir, "README.md"), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const match of readme.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|href="([^"]+)"/g)) {
      const target = match[1] ?? match[2] ?? "";
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const path = target.split("#")[0] ?? "";
      const inside = relative(dir, resolve(dir, path)).split("\\").join("/");
      if (
        inside.startsWith("..") ||
        !(files.has(inside) || filesUnder(dir).some((f) => f.startsWith(`${inside}/`)))
      ) {
        problems.push(`README.md links to ${target}, which is not in the package (use an absolute URL)`);
      }
    }
  }
  return problems;
}

describe("every public package packs into a complete tarball", () => {
  it("discovers the public packages", () => {
    expect(packages.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        "@agent-sre/core",
        "@agent-sre/langchain",
        "@agent-sre/ai-sdk",
        "@agent-sre/openai",
        "@agent-sre/mcp-proxy",
        "@agent-sre/cli",
      ]),
    );
  });

  it.each(packages.map((pkg) => [pkg.name, pkg] as const))("%s", async (_name, pkg) => {
    const dir = unpacked.get(pkg.name) ?? "";
    expect(packageProblems(pkg, dir)).toEqual([]);
    const { messages, pkg: manifest } = await publint({ pkgDir: dir, pack: false, level: "warning" });
    expect(messages.map((message) => formatMessage(message, manifest) ?? message.code)).toEqual([]);
  });
});

async function npmInstall(app: string, dependencies: Record<string, string>): Promise<void> {
  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify({ name: "fresh-app", private: true, type: "module", dependencies }, null, 2)}\n`,
  );
  // Offline first: the npm cache of earlier runs answers, the registry fills the gaps.
  await exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: app,
    env: cleanEnv(),
    timeout: 480_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  // Our packages come from the tarballs, never from the registry.
  const lock = JSON.parse(readFileSync(join(app, "package-lock.json"), "utf8")) as {
    packages: Record<string, { resolved?: string }>;
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (/node_modules\/@agent-sre\//.test(path)) expect(entry.resolved, path).toMatch(/^file:/);
  }
}

/** Tarballs of `names` and of every workspace package they depend on (npm cannot find those on the registry). */
function tarballDeps(names: readonly string[]): Record<string, string> {
  const wanted = new Set<string>();
  const visit = (name: string): void => {
    if (wanted.has(name) || !tarballs.has(name)) return;
    wanted.add(name);
    const manifest = manifestOf(unpacked.get(name) ?? "");
    for (const field of ["dependencies", "optionalDependencies"]) {
      for (const dependency of Object.keys((manifest[field] ?? {}) as Record<string, string>))
        visit(dependency);
    }
  };
  for (const name of names) visit(name);
  return Object.fromEntries([...wanted].map((name) => [name, `file:${tarballs.get(name)}`]));
}
const registryDeps = (names: readonly string[]): Record<string, string> =>
  Object.fromEntries(
    names.map((name) => {
      const version = testManifest.devDependencies[name] ?? rootManifest.devDependencies[name];
      if (version === undefined) throw new Error(`no version of ${name} in test/package.json`);
      return [name, version];
    }),
  );

const run = (file: string, args: string[], cwd: string) =>
  exec(file, args, { cwd, env: cleanEnv(), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });

describe("installed into a fresh app outside the workspace", () => {
  it("the CLI and the proxy alone: no demo stack, a guarded MCP call, a clear message for `demo`", async () => {
    const app = join(work, "proxy-app");
    cpSync(join(here, "proxy-app"), app, { recursive: true });
    await npmInstall(app, {
      ...tarballDeps(["@agent-sre/cli"]),
      ...registryDeps(["@modelcontextprotocol/sdk", "zod"]),
    });
    const installed = readdirSync(join(app, "node_modules"));
    for (const heavy of ["langchain", "ai", "@langchain"]) expect(installed).not.toContain(heavy);
    expect(existsSync(join(app, "node_modules/@agent-sre/demo"))).toBe(false);
    const size = installedSize(join(app, "node_modules"));
    console.log(
      `@agent-sre/cli + proxy installed: ${size.packages} packages, ${(size.bytes / 1e6).toFixed(1)} MB (apparent size)`,
    );

    const { stdout } = await run(process.execPath, ["client.mjs"], app);
    expect(JSON.parse(stdout)).toEqual({
      echo: "echo: hi",
      shell: { isError: true, text: expect.stringContaining("[agent-sre]"), code: "TOOL_NOT_ALLOWED" },
    });

    const bin = join(app, "node_modules/@agent-sre/cli/bin/agent-sre.js");
    const version = await run(process.execPath, [bin, "--version"], app);
    expect(version.stdout.trim()).toContain(
      manifestOf(unpacked.get("@agent-sre/cli") ?? "").version as string,
    );
    const demo = await run(process.execPath, [bin, "demo"], app).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(demo.code).toBe(1);
    expect(demo.stderr).toContain("npx @agent-sre/demo");
  }, 600_000);

  it("every package with the real frameworks: strict typecheck, one guarded call per adapter", async () => {
    const app = join(work, "app");
    await mkdir(join(app, "src"), { recursive: true });
    cpSync(join(here, "app"), join(app, "src"), { recursive: true });
    // Every public package, including ones added later: its types resolve and its entry loads.
    const names = packages.map((pkg) => pkg.name);
    writeFileSync(
      join(app, "src/imports.ts"),
      `${names.map((name, i) => `import * as p${i} from "${name}";`).join("\n")}\n` +
        `console.log(JSON.stringify({ ${names.map((name, i) => `"${name}": Object.keys(p${i}).length`).join(", ")} }));\n`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023"],
          types: ["node"],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: false,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          outDir: "dist",
          rootDir: "src",
        },
        include: ["src"],
      }),
    );
    await npmInstall(app, {
      ...tarballDeps(names),
      ...registryDeps([
        "langchain",
        "@langchain/core",
        "@langchain/langgraph",
        "@langchain/openai",
        "ai",
        "@ai-sdk/openai",
        "openai",
        "zod",
        "@modelcontextprotocol/sdk",
        "typescript",
        "@types/node",
      ]),
    });
    await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "."], app);

    const imports = JSON.parse((await run(process.execPath, ["dist/imports.js"], app)).stdout) as Record<
      string,
      number
    >;
    for (const name of names) expect(imports[name], name).toBeGreaterThan(0);

    const result = JSON.parse((await run(process.execPath, ["dist/index.js"], app)).stdout);
    const reply = "hello from the fake model";
    expect(result).toEqual({
      core: { lookup: "found", refusal: "TOOL_NOT_ALLOWED" },
      openai: { text: reply, spentUsd: expect.any(Number) },
      aiSdk: { text: reply, spentUsd: expect.any(Number) },
      langchain: { text: reply, spentUsd: expect.any(Number) },
      requests: 3,
    });
    for (const adapter of ["openai", "aiSdk", "langchain"])
      expect(result[adapter].spentUsd).toBeGreaterThan(0);

    // With the demo installed next to the CLI, `agent-sre demo` finds it.
    const list = await run(
      process.execPath,
      [join(app, "node_modules/@agent-sre/cli/bin/agent-sre.js"), "demo", "--list"],
      app,
    );
    expect(list.stdout).toContain("cascade");
  }, 900_000);
});
