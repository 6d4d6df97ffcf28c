import type { ManualClock } from "../clock.js";
import { AgentSRE, type AgentSREOptions } from "../engine/agent-sre.js";
import type { GuardCall, UsageReport } from "../engine/types.js";
import type { Trace, TraceCall, TraceError } from "./format.js";
import type { RecordedRun } from "./recorder.js";
import { type ReplayOptions, type ReplayReport, ReplaySession } from "./session.js";

export interface DecisionReplayOptions extends Omit<ReplayOptions, "onDivergence" | "liveTools"> {
  /** The engine config to replay under (the what-if). Default: engine defaults, with the trace's seed as `chaosSeed`. */
  engine?: Omit<AgentSREOptions, "clock">;
  /** Or build the engine yourself on the replay clock (to start chaos experiments, add SLOs, …). */
  build?: (clock: ManualClock) => AgentSRE;
}

export interface DecisionReplay extends ReplayReport {
  /** The replay's engine (its status shows the spend, breakers and kills the replay produced). */
  sre: AgentSRE;
  /** The first recorded call the replay's engine refused although the recording ran it. */
  firstRefusal: ReplayReport["whatIf"][number] | undefined;
}

/**
 * Re-drives a recorded run's calls, in order and at their recorded times, through an engine built from
 * another config — without the application: each call is answered with its recorded response, usage and
 * error. The report says which calls the new config decides differently (what-if: "would this budget, deny
 * rule or fault have stopped it?"). Later calls are still driven as recorded (the application might have
 * gone another way after a refusal; `afterWhatIf` on the report marks that).
 */
export async function replayDecisions(
  trace: Trace | RecordedRun | string,
  options: DecisionReplayOptions = {},
): Promise<DecisionReplay> {
  const { engine, build, ...replayOptions } = options;
  const session = new ReplaySession(trace, { ...replayOptions, onDivergence: "report" });
  // Randomness from the trace: the recorded seed, unless the what-if config sets its own.
  const seed = session.trace.header.seed;
  const sre =
    build?.(session.clock) ??
    new AgentSRE({ ...(seed === undefined ? {} : { chaosSeed: seed }), ...engine, clock: session.clock });
  const detach = session.attach(sre);
  const header = session.trace.header;
  try {
    for (const step of session.trace.calls) {
      const call = guardCallOf(step, header.agentId, header.taskId);
      await drive(
        session.clock,
        sre.guard(call, () => answer(session, step)),
      );
    }
  } finally {
    detach();
  }
  const report = session.report();
  return { ...report, sre, firstRefusal: report.whatIf.find((f) => f.change === "refused") };
}

/** Longest simulated wait (a throttle delay) driven for one call before giving up on it. */
const MAX_DRIVE_STEPS = 3_600;
const DRIVE_STEP_MS = 1_000;

/**
 * Waits for a guarded call, moving the replay clock while it waits on the engine's timers (a throttled
 * agent's delay): recorded calls answer at once, so a call still pending after the microtasks ran is waiting
 * on simulated time. Refusals and recorded failures are in the report, not thrown.
 */
async function drive(clock: ManualClock, call: Promise<unknown>): Promise<void> {
  let done = false;
  const settled = call.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let step = 0; !done && step < MAX_DRIVE_STEPS; step++) {
    await clock.advanceAsync(0);
    if (!done && clock.pendingTimers > 0) await clock.advanceAsync(DRIVE_STEP_MS);
  }
  await settled;
}

function guardCallOf(step: TraceCall, agentId: string, taskId: string | undefined): GuardCall<unknown> {
  const call: GuardCall<unknown> = { kind: step.kind, agentId, name: step.name };
  if (taskId !== undefined) call.taskId = taskId;
  if (step.provider !== undefined) call.provider = step.provider;
  if (step.kind === "tool" && step.request !== undefined) call.input = step.request;
  if (step.estimate !== undefined) call.estimate = step.estimate;
  if (step.attempt !== undefined) call.attempt = step.attempt;
  if (step.breakers !== undefined) call.breakers = step.breakers;
  if (step.usage !== undefined) {
    const usage = step.usage as unknown as UsageReport;
    call.usage = () => usage;
  }
  return call;
}

function answer(session: ReplaySession, step: TraceCall): unknown {
  // A call refused in the recording has no outcome to replay: it runs as an empty success (the report
  // lists it as allowed now).
  if (step.decision.outcome === "refused") return undefined;
  // A call recorded without its response (no adapter captured it) succeeds empty: only decisions matter here.
  const answered = session.answer(
    { kind: step.kind, name: step.name, request: step.request, api: step.api },
    { missingResponse: "ok" },
  );
  if (!answered.ok && answered.error !== undefined) throw reviveError(answered.error);
  return answered.response;
}

/** A recorded error as a throwable with the same name, message and fields (status, code, …). */
export function reviveError(recorded: TraceError): Error {
  const error = new Error(recorded.message);
  for (const [key, value] of Object.entries(recorded)) {
    if (key !== "message") (error as unknown as Record<string, unknown>)[key] = value;
  }
  error.name = recorded.name;
  return error;
}
