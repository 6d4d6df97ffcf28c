// The public packages of the workspace (every package.json without "private": true, found through
// pnpm-workspace.yaml), packed exactly as `pnpm publish` would pack them, and unpacked for inspection.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";

export const exec = promisify(execFile);

export interface WorkspacePackage {
  readonly name: string;
  readonly version: string;
  /** Folder, relative to the repository root. */
  readonly dir: string;
}

export function publicPackages(root: string): WorkspacePackage[] {
  const workspace = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  // The list under the top-level `packages:` key (other keys may hold lists too).
  const packagesSection = /^packages:\s*\n((?:[ \t]+.*\n?|\s*\n)*)/m.exec(workspace)?.[1] ?? "";
  const found: WorkspacePackage[] = [];
  for (const match of packagesSection.matchAll(/^\s*-\s*["']?([^"'\n#]+?)["']?\s*$/gm)) {
    const pattern = match[1] ?? "";
    const dirs = pattern.endsWith("/*")
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern];
    for (const dir of dirs) {
      const manifestPath = join(root, dir, "package.json");
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
        name: string;
        version: string;
        private?: boolean;
      };
      if (manifest.private !== true) found.push({ name: manifest.name, version: manifest.version, dir });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** `pnpm` as the workspace runs it: the running pnpm when there is one, else the pinned version via npx. */
export function pnpmCommand(root: string): { file: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath) && existsSync(execPath))
    return { file: process.execPath, args: [execPath] };
  const { packageManager } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    packageManager: string;
  };
  return { file: "npx", args: ["-y", packageManager] };
}

/** The environment for npm in a directory outside the workspace: none of pnpm's npm_* settings leak in. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !/^PNPM_/i.test(key)) env[key] = value;
  }
  return env;
}

/** Packs one package into `destination`; returns the tarball's path. */
export async function pack(root: string, pkg: WorkspacePackage, destination: string): Promise<string> {
  const pnpm = pnpmCommand(root);
  await exec(pnpm.file, [...pnpm.args, "pack", "--pack-destination", destination], {
    cwd: join(root, pkg.dir),
    env: cleanEnv(),
    timeout: 120_000,
  });
  const file = join(destination, `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`);
  if (!existsSync(file)) throw new Error(`pnpm pack of ${pkg.name} produced no ${file}`);
  return file;
}

export async function unpack(tarball: string, destination: string): Promise<string> {
  await mkdir(destination, { recursive: true });
  await exec("tar", ["-xzf", tarball, "-C", destination], { timeout: 60_000 });
  return join(destination, "package");
}

/** Every file under `dir`, relative, with "/" separators. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** Bytes of the files under `dir` (apparent size) and the number of installed packages. */
export function installedSize(nodeModules: string): { bytes: number; packages: number } {
  let bytes = 0;
  let packages = 0;
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) walk(path);
      else {
        bytes += statSync(path).size;
        if (
          entry.name === "package.json" &&
          /node_modules[/\\](@[^/\\]+[/\\])?[^/\\@][^/\\]*$/.test(current)
        ) {
          packages++;
        }
      }
    }
  };
  walk(nodeModules);
  return { bytes, packages };
}
