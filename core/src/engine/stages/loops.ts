import { LoopDetectedError } from "../../errors.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";
import { recordToolAction } from "./observe.js";

/** Stage 3 — the K-th identical tool call (same name, same arguments) is refused as a loop. */
export function checkLoop(ctx: EngineContext, call: GuardCall<never>, agent: AgentState, now: number): void {
  // Pre-flight calls this only with `refuseLoops` set (which needs the detector).
  const detector = ctx.detector;
  if (detector === undefined) return;
  const repeats = detector.checkLoopOf(ctx.signalsOf(agent), call.name, call.input, call.taskId, now);
  if (repeats + 1 >= ctx.options.loopRepeats) throw refuseLoop(ctx, call, agent, now, repeats + 1);
}

/** Out of line, so pre-flight inlines only the check (V8's inlining budget; see pipeline.ts). */
function refuseLoop(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  now: number,
  repeats: number,
): LoopDetectedError {
  recordToolAction(ctx, call, "refused:LOOP_DETECTED", now, false, agent);
  return ctx.refused(call, agent, new LoopDetectedError(call.agentId, call.name, repeats));
}
