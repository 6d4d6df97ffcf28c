// Every TypeScript snippet of every Markdown file compiles, as a user would paste it into a strict project
// (strict + noUncheckedIndexedAccess, NodeNext, the packages' published types). Snippets are found by
// scanning the repository, so new docs are covered without registering them. A snippet names everything it
// uses: imports, and `declare const …` for the values the reader brings (a client, a tool, a request).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { publicPackages } from "../packaging/workspace-packages.js";
import { importedPackages, installedPackages, readSnippets, type Snippet } from "./snippets.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const { files, snippets } = readSnippets(root);

// Virtual files inside the test package, so imports resolve through test/node_modules like a user's app.
const virtualDir = join(here, "__snippets__");
const pathOf = (snippet: Snippet): string =>
  join(virtualDir, `${snippet.file.replace(/[/.]/g, "_")}_L${snippet.line}.ts`);

function compilerOptions(): ts.CompilerOptions {
  const base = ts.readConfigFile(join(root, "tsconfig.base.json"), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(
    { ...base.config, compilerOptions: { ...base.config.compilerOptions, types: ["node"] } },
    ts.sys,
    here,
  );
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    moduleDetection: ts.ModuleDetectionKind.Force,
    // The user's project, not ours, decides these; strictness is what we promise.
    strict: true,
    noUncheckedIndexedAccess: true,
  };
}

const diagnostics = new Map<string, string[]>();

beforeAll(() => {
  const sources = new Map(snippets.map((snippet) => [pathOf(snippet), snippet]));
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (file) => sources.has(file) || fileExists.call(host, file);
  host.readFile = (file) => sources.get(file)?.code ?? readFile.call(host, file);
  host.getSourceFile = (file, language, onError, create) => {
    const snippet = sources.get(file);
    return snippet
      ? ts.createSourceFile(file, snippet.code, language, true, ts.ScriptKind.TS)
      : getSourceFile.call(host, file, language, onError, create);
  };
  const program = ts.createProgram([...sources.keys()], options, host);
  for (const [file, snippet] of sources) {
    const source = program.getSourceFile(file);
    const found = source
      ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      : [];
    diagnostics.set(
      file,
      found.map((d) => {
        const where =
          d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        const at = where
          ? `${snippet.file}:${snippet.line + where.line}:${where.character + 1}`
          : snippet.file;
        const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        const hint = d.code === 2307 ? " (add the package to test/package.json devDependencies)" : "";
        return `${at} TS${d.code}: ${text}${hint}`;
      }),
    );
  }
}, 120_000);

describe("README snippets compile (strict, noUncheckedIndexedAccess)", () => {
  it("finds the snippets of the root README and the package READMEs", () => {
    const documented = new Set(snippets.map((s) => s.file));
    for (const readme of ["README.md", "core/README.md", "adapters/openai/README.md"]) {
      expect(documented).toContain(readme);
    }
  });

  it.each(snippets.map((s) => [`${s.file}:${s.line}`, s] as const))("%s", (_name, snippet) => {
    expect(diagnostics.get(pathOf(snippet))).toEqual([]);
  });
});

describe("install lines list every package the snippets import", () => {
  // The root README and every public package's README: what a user reads before installing.
  const readmes = ["README.md", ...publicPackages(root).map((pkg) => `${pkg.dir}/README.md`)];
  it.each(readmes)("%s", (file) => {
    const text = files.get(file) ?? "";
    const installed = installedPackages(text);
    expect(installed, `${file} has no install line (npm install …)`).toBeDefined();
    const imported = snippets.filter((s) => s.file === file).flatMap((s) => [...importedPackages(s.code)]);
    expect([...new Set(imported)].filter((name) => !installed?.has(name))).toEqual([]);
  });
});
