import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CompareOptions,
  diffTraces,
  formatTrace,
  formatTraceDiff,
  parseTrace,
  type RecordedRun,
  type Trace,
  type TraceDiff,
} from "@agent-sre/core";

export interface GoldenOptions extends CompareOptions {
  /** Rewrite the golden file with this run. Default: `AGENT_SRE_UPDATE_GOLDEN=1` in the environment. */
  update?: boolean;
  /**
   * Whether a missing golden file may be created. Default: yes, except in CI (`CI` set), where a missing
   * golden fails the test — record it locally and commit it.
   */
  create?: boolean;
  /** Folder a relative path resolves against. Default: the working directory. */
  baseDir?: string;
}

export interface GoldenResult {
  file: string;
  /** `created` on the first run, `updated` when asked to, `matched` otherwise (a mismatch throws). */
  status: "created" | "updated" | "matched";
  diff: TraceDiff | undefined;
}

/** Thrown when a run does not match its golden trace; the message is the step-by-step diff. */
export class GoldenMismatchError extends Error {
  readonly diff: TraceDiff;
  readonly file: string;
  constructor(file: string, diff: TraceDiff) {
    super(
      `the run does not match the golden trace ${file}\n${formatTraceDiff(diff, { a: "golden", b: "run" })}\n(set AGENT_SRE_UPDATE_GOLDEN=1 to accept the new run)`,
    );
    this.name = "GoldenMismatchError";
    this.diff = diff;
    this.file = file;
  }
}

/**
 * Compares a recorded run with a golden trace file: records the file on the first run, compares afterwards
 * and throws `GoldenMismatchError` (a readable step-by-step diff) when they differ. Works in any test runner
 * (vitest reports the thrown error).
 *
 * Tolerance rules: run and span ids, start times, durations, the end reason and the recorded config (its
 * digest is compared) are ignored; costs compare with a relative tolerance of 1e-9; everything else — order
 * of calls, kinds, names, requests, responses, decisions, usage — must be equal, except fields listed in
 * `ignore` and numbers within `tolerance` (`{ relative, absolute, fields }`); `timings` compares durations
 * within a tolerance instead of ignoring them.
 */
export function expectRunToMatchGolden(
  run: RecordedRun | Trace | string | undefined,
  file: string | URL,
  options: GoldenOptions = {},
): GoldenResult {
  if (run === undefined) throw new Error("expectRunToMatchGolden: no run (was it recorded and ended?)");
  const trace = typeof run === "string" ? parseTrace(run) : "text" in run ? parseTrace(run.text) : run;
  const path = typeof file === "string" ? file : fileURLToPath(file);
  const target = isAbsolute(path) ? path : resolve(options.baseDir ?? process.cwd(), path);
  const { update, create, baseDir: _, ...compare } = options;
  const write = () => {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, formatTrace(trace));
  };
  if (!existsSync(target)) {
    if (!(create ?? process.env.CI === undefined)) {
      throw new Error(
        `golden trace ${target} is missing (record it locally and commit it; CI does not create goldens)`,
      );
    }
    write();
    return { file: target, status: "created", diff: undefined };
  }
  if (update ?? process.env.AGENT_SRE_UPDATE_GOLDEN === "1") {
    write();
    return { file: target, status: "updated", diff: undefined };
  }
  const golden = parseTrace(readFileSync(target, "utf8"));
  const diff = diffTraces(golden, trace, compare);
  if (!diff.equal) throw new GoldenMismatchError(target, diff);
  return { file: target, status: "matched", diff };
}
