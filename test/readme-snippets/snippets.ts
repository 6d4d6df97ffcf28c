// Finds the TypeScript snippets of every Markdown file in the repository (READMEs of the root and of every
// package, and any other doc), so a snippet added later is checked without anyone registering it.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

export interface Snippet {
  /** Markdown file, relative to the repository root, with "/" separators. */
  readonly file: string;
  /** 1-based line of the snippet's first code line in that file. */
  readonly line: number;
  readonly code: string;
}

/** Directories that hold no documentation of ours. */
const SKIPPED_DIRS = new Set(["node_modules", "dist", "coverage", ".git", ".changeset"]);

export function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith(".")) walk(join(dir, entry.name));
      } else if (entry.isFile() && entry.name.endsWith(".md")) {
        found.push(relative(root, join(dir, entry.name)).split(sep).join("/"));
      }
    }
  };
  walk(root);
  return found.sort();
}

const FENCE_OPEN = /^\s*(`{3,}|~{3,})\s*([\w-]*)/;

/** Every fenced block of the file: its info word, first code line (1-based) and code. */
export function fencedBlocks(text: string): { lang: string; line: number; code: string }[] {
  const lines = text.split(/\r?\n/);
  const blocks: { lang: string; line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i] ?? "");
    if (!open) continue;
    const fence = open[1] ?? "```";
    const close = new RegExp(`^\\s*${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end] ?? "")) end++;
    blocks.push({
      lang: (open[2] ?? "").toLowerCase(),
      line: i + 2,
      code: lines.slice(i + 1, end).join("\n"),
    });
    i = end;
  }
  return blocks;
}

export const TS_LANGS = new Set(["ts", "typescript", "mts", "tsx"]);

export function snippetsOf(file: string, text: string): Snippet[] {
  return fencedBlocks(text)
    .filter((block) => TS_LANGS.has(block.lang))
    .map((block) => ({ file, line: block.line, code: block.code }));
}

/** The npm package an import specifier names, or undefined for relative and built-in modules. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:"))
    return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const IMPORT_SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

export function importedPackages(code: string): Set<string> {
  const packages = new Set<string>();
  for (const match of code.matchAll(IMPORT_SPECIFIER)) {
    const name = packageOf(match[1] ?? "");
    if (name !== undefined) packages.add(name);
  }
  return packages;
}

const INSTALL_COMMAND =
  /\b(?:npm\s+(?:install|i|add)|pnpm\s+(?:add|install|i)|yarn\s+add|bun\s+add)\s+([^#\n]+)/g;

/** Packages named by the install commands (`npm install …`, `pnpm add …`) in the shell blocks of a file. */
export function installedPackages(text: string): Set<string> | undefined {
  let found: Set<string> | undefined;
  for (const block of fencedBlocks(text)) {
    if (!["sh", "bash", "shell", "console", ""].includes(block.lang)) continue;
    for (const match of block.code.matchAll(INSTALL_COMMAND)) {
      found ??= new Set();
      for (const word of (match[1] ?? "").trim().split(/\s+/)) {
        if (word.startsWith("-")) continue;
        // `zod@^4` names zod; `@scope/name@1` names @scope/name.
        const at = word.indexOf("@", 1);
        found.add(at > 0 ? word.slice(0, at) : word);
      }
    }
  }
  return found;
}

export function readSnippets(root: string): { files: Map<string, string>; snippets: Snippet[] } {
  const files = new Map<string, string>();
  const snippets: Snippet[] = [];
  for (const file of markdownFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    files.set(file, text);
    snippets.push(...snippetsOf(file, text));
  }
  return { files, snippets };
}
