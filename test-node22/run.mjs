// The Node 22 leg of the tests: ai@7 and openai@7 require Node >= 22. On Node 22+ this runs vitest directly;
// on Node 20 it runs it under the `node@22` package from the npm registry (which ships the Node binary), so a
// machine with only Node 20 and npm runs both legs with one `npm test`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NODE22 = "node@22.23.3";
const here = dirname(fileURLToPath(import.meta.url));
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const args = [vitest, "run", "--root", here, ...process.argv.slice(2)];

const major = Number(process.versions.node.split(".")[0]);
const [command, commandArgs] =
  major >= 22 ? [process.execPath, args] : ["npx", ["--yes", "--package", NODE22, "--", "node", ...args]];
if (major < 22)
  console.log(
    `Node ${process.versions.node}: running the Node 22 leg (ai@7, openai@7, MCP conformance) on ${NODE22} (npx)`,
  );
const result = spawnSync(command, commandArgs, { stdio: "inherit", cwd: here });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
