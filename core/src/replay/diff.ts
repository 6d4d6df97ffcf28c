import { ConfigError } from "../errors.js";
import { describeCall, type Trace, type TraceCall } from "./format.js";

/** One difference between two JSON values, at a path such as `request.prompt[2].content[0].text`. */
export interface JsonDifference {
  path: string;
  /** The value in the recording (or trace `a`); `undefined` when absent there. */
  expected: unknown;
  /** The value in the replay (or trace `b`); `undefined` when absent there. */
  actual: unknown;
}

export interface NumericTolerance {
  /** Numbers are equal when `|a − b| <= absolute + relative × max(|a|, |b|)`. */
  relative?: number;
  absolute?: number;
}

/**
 * How two traces or two requests are compared.
 *
 * - `ignore`: field paths left out of the comparison (dot-separated; `*` one segment or array index,
 *   `**` any number), relative to a call line (`request.temperature`, `response.**.id`) or prefixed with
 *   `header.` / `end.` for those lines.
 * - `tolerance`: numeric tolerance for every number (`{ relative, absolute }`), and per field path in
 *   `fields` (e.g. `{ "costUsd": { relative: 0.01 } }`).
 */
export interface CompareOptions {
  ignore?: string[];
  tolerance?: NumericTolerance & { fields?: Record<string, NumericTolerance> };
  /** Stop listing differences of one step past this many. Default 20. */
  maxDifferences?: number;
  /**
   * Compare timings (`timing.*`, `end.durationMs`), which traces ignore by default, within this tolerance
   * (e.g. `{ relative: 0.5, absolute: 50 }`).
   */
  timings?: NumericTolerance;
}

/**
 * What a golden or trace comparison leaves out unless told otherwise: ids and times that differ on every
 * run (run and span ids, start times, durations, the end reason) and the recorded config (its digest is
 * compared). Costs are compared with a relative tolerance of 1e-9 (sums of floats).
 */
export const DEFAULT_TRACE_IGNORE: readonly string[] = [
  "header.runId",
  "header.startedAt",
  "header.startedAtMs",
  "header.config",
  "spanId",
  "timing",
  "end.durationMs",
  "end.reason",
];

const DEFAULT_COST_TOLERANCE: NumericTolerance = { relative: 1e-9 };

type Segments = readonly string[];

interface CompiledCompare {
  ignore: Segments[];
  relative: number;
  absolute: number;
  fields: Array<[Segments, NumericTolerance]>;
  maxDifferences: number;
}

export function compileCompare(
  options: CompareOptions = {},
  defaults: readonly string[] = [],
): CompiledCompare {
  const ignore = [...defaults, ...(options.ignore ?? [])].map((path, i) => {
    if (typeof path !== "string" || path === "") throw new ConfigError(`ignore[${i}]`, path, "a field path");
    return path.split(".");
  });
  const tolerance = options.tolerance ?? {};
  const fields: Array<[Segments, NumericTolerance]> = Object.entries(tolerance.fields ?? {}).map(
    ([path, t]) => [path.split("."), t],
  );
  if (!fields.some(([path]) => path.join(".") === "costUsd"))
    fields.push([["**", "costUsd"], DEFAULT_COST_TOLERANCE]);
  return {
    ignore,
    relative: tolerance.relative ?? 0,
    absolute: tolerance.absolute ?? 0,
    fields,
    maxDifferences: options.maxDifferences ?? 20,
  };
}

/** Segment-wise glob match: `*` one segment, `**` any number (also zero); a pattern also matches below itself. */
export function pathMatches(pattern: Segments, path: Segments, p = 0, s = 0): boolean {
  if (p === pattern.length) return true; // a prefix: everything below an ignored field is ignored too
  const segment = pattern[p] as string;
  if (segment === "**") {
    for (let skip = s; skip <= path.length; skip++) if (pathMatches(pattern, path, p + 1, skip)) return true;
    return false;
  }
  if (s === path.length) return false;
  if (segment !== "*" && segment !== path[s]) return false;
  return pathMatches(pattern, path, p + 1, s + 1);
}

/** Whether an (unanchored) pattern matches: `timing` matches `timing` at the top, `**.id` anywhere. */
function ignored(compare: CompiledCompare, path: Segments): boolean {
  for (const pattern of compare.ignore) if (pathMatches(pattern, path)) return true;
  return false;
}

function numbersEqual(compare: CompiledCompare, path: Segments, a: number, b: number): boolean {
  if (a === b) return true;
  let relative = compare.relative;
  let absolute = compare.absolute;
  for (const [pattern, t] of compare.fields) {
    if (pathMatches(pattern, path) && pattern.length >= 1) {
      relative = t.relative ?? relative;
      absolute = t.absolute ?? absolute;
    }
  }
  return Math.abs(a - b) <= absolute + relative * Math.max(Math.abs(a), Math.abs(b));
}

/** Every difference between `expected` and `actual` (JSON values), at most `maxDifferences`. */
export function diffJson(
  expected: unknown,
  actual: unknown,
  compare: CompiledCompare = compileCompare(),
  base: Segments = [],
): JsonDifference[] {
  const out: JsonDifference[] = [];
  walk(expected, actual, [...base], compare, out, 0);
  return out;
}

function walk(
  a: unknown,
  b: unknown,
  path: string[],
  compare: CompiledCompare,
  out: JsonDifference[],
  baseLength: number,
): void {
  if (out.length >= compare.maxDifferences) return;
  if (ignored(compare, path)) return;
  if (a === b) return;
  const push = () => out.push({ path: formatPath(path.slice(baseLength)), expected: a, actual: b });
  if (typeof a === "number" && typeof b === "number") {
    if (!numbersEqual(compare, path, a, b)) push();
    return;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    push();
    return;
  }
  if (Array.isArray(a) !== Array.isArray(b)) {
    push();
    return;
  }
  if (Array.isArray(a)) {
    const bArray = b as unknown[];
    const length = Math.max(a.length, bArray.length);
    for (let i = 0; i < length; i++) {
      path.push(String(i));
      walk(a[i], bArray[i], path, compare, out, baseLength);
      path.pop();
    }
    return;
  }
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(aRecord), ...Object.keys(bRecord)]);
  for (const key of keys) {
    path.push(key);
    walk(aRecord[key], bRecord[key], path, compare, out, baseLength);
    path.pop();
  }
}

/** `request.prompt.2.content` → `request.prompt[2].content`. */
export function formatPath(path: Segments): string {
  let out = "";
  for (const segment of path) {
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out === "" ? "(value)" : out;
}

export type StepStatus = "equal" | "changed" | "added" | "removed";

export interface StepDiff {
  /** 1-based position of the step in the runs (calls are paired by position). */
  seq: number;
  status: StepStatus;
  a?: TraceCall;
  b?: TraceCall;
  differences: JsonDifference[];
}

export interface TraceDiff {
  equal: boolean;
  header: JsonDifference[];
  steps: StepDiff[];
  end: JsonDifference[];
  /** The first step that differs, if any. */
  firstDivergence: StepDiff | undefined;
}

/**
 * Step-by-step comparison of two traces (e.g. a golden trace and a new recording): calls are paired by
 * position; each pair lists its differing fields. `DEFAULT_TRACE_IGNORE` applies on top of `options.ignore`.
 */
export function diffTraces(a: Trace, b: Trace, options: CompareOptions = {}): TraceDiff {
  const timings = options.timings;
  const defaults =
    timings === undefined
      ? DEFAULT_TRACE_IGNORE
      : DEFAULT_TRACE_IGNORE.filter((path) => path !== "timing" && path !== "end.durationMs");
  const withTimings: CompareOptions =
    timings === undefined
      ? options
      : {
          ...options,
          tolerance: {
            ...options.tolerance,
            fields: { ...options.tolerance?.fields, timing: timings, "end.durationMs": timings },
          },
        };
  const compare = compileCompare(withTimings, defaults);
  const header = diffJson(a.header, b.header, compare, ["header"]);
  const steps: StepDiff[] = [];
  const length = Math.max(a.calls.length, b.calls.length);
  let firstDivergence: StepDiff | undefined;
  for (let i = 0; i < length; i++) {
    const left = a.calls[i];
    const right = b.calls[i];
    let step: StepDiff;
    if (left === undefined) step = { seq: i + 1, status: "added", b: right as TraceCall, differences: [] };
    else if (right === undefined) step = { seq: i + 1, status: "removed", a: left, differences: [] };
    else {
      const differences = diffJson(left, right, compare);
      step = {
        seq: i + 1,
        status: differences.length === 0 ? "equal" : "changed",
        a: left,
        b: right,
        differences,
      };
    }
    if (step.status !== "equal" && firstDivergence === undefined) firstDivergence = step;
    steps.push(step);
  }
  const end = diffJson(a.end ?? {}, b.end ?? {}, compare, ["end"]);
  const truncation = diffJson(a.truncation ?? {}, b.truncation ?? {}, compare, ["truncation"]);
  end.push(...truncation);
  return {
    equal: header.length === 0 && firstDivergence === undefined && end.length === 0,
    header,
    steps,
    end,
    firstDivergence,
  };
}

/** A value shown in a diff: JSON, cut to `max` characters. */
export function showValue(value: unknown, max = 120): string {
  if (value === undefined) return "(absent)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatDifferences(differences: readonly JsonDifference[], indent = "    "): string[] {
  return differences.map((d) => `${indent}${d.path}: ${showValue(d.expected)} → ${showValue(d.actual)}`);
}

/** A readable step-by-step report of a trace diff (`agent-sre diff`). */
export function formatTraceDiff(diff: TraceDiff, labels: { a?: string; b?: string } = {}): string {
  const a = labels.a ?? "a";
  const b = labels.b ?? "b";
  const lines: string[] = [];
  if (diff.header.length > 0) {
    lines.push("header differs:");
    lines.push(...formatDifferences(diff.header));
  }
  for (const step of diff.steps) {
    const call = step.a ?? step.b;
    const label = call === undefined ? `#${step.seq}` : describeCall({ ...call, seq: step.seq });
    switch (step.status) {
      case "equal":
        lines.push(`  ${label}  =`);
        break;
      case "added":
        lines.push(`+ ${label}  only in ${b}`);
        break;
      case "removed":
        lines.push(`- ${label}  only in ${a}`);
        break;
      case "changed": {
        const renamed =
          step.a !== undefined &&
          step.b !== undefined &&
          (step.a.kind !== step.b.kind || step.a.name !== step.b.name)
            ? ` (${a}: ${step.a.kind} ${step.a.name}, ${b}: ${step.b.kind} ${step.b.name})`
            : "";
        lines.push(`~ ${label}${renamed}`);
        lines.push(...formatDifferences(step.differences));
        break;
      }
    }
  }
  if (diff.end.length > 0) {
    lines.push("end differs:");
    lines.push(...formatDifferences(diff.end));
  }
  const first = diff.firstDivergence;
  lines.push(
    diff.equal
      ? `equal: ${diff.steps.length} steps`
      : first === undefined
        ? "different (header or end)"
        : `first divergence at step ${first.seq} (${first.status})`,
  );
  return lines.join("\n");
}
