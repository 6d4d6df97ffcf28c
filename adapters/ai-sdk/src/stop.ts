import type { AgentSRE, RefusalCode, RefusalError } from "@agent-sre/core";
import { isRefusal } from "@agent-sre/core";

export interface StopWhenOptions {
  agentId: string;
  taskId?: string;
  /**
   * Also stop when the budget could not pay for another step like the last one (its tokens, priced at its
   * model): the engine's `budget.refusalFor` answers for that size. Default true. Without it the run goes on
   * until a model call is refused (the run then rejects with that refusal).
   */
  projectNextStep?: boolean;
  /** Called with the refusal that ends the run. */
  onStop?: (refusal: RefusalError) => void;
}

/** Tool refusals that mean the agent itself must stop (not just try another tool). */
const STOPPING_TOOL_REFUSALS: ReadonlySet<RefusalCode> = new Set<RefusalCode>([
  "LOOP_DETECTED",
  "AGENT_QUARANTINED",
  "AGENT_KILLED",
  "ANOMALY_HELD",
  "BUDGET_EXCEEDED",
  "TOKEN_LIMIT_EXCEEDED",
]);

/** What the stop condition reads from a step (the same in ai@6 and ai@7). */
export interface StepLike {
  content?: ReadonlyArray<{ type: string; error?: unknown }>;
  usage?: { inputTokens?: number | undefined; outputTokens?: number | undefined };
  model?: { provider?: string; modelId?: string };
}

/**
 * A stop condition for `generateText` / `streamText` / agents (`stopWhen`): ends a multi-step run between
 * steps when the engine says the agent should not go on —
 * - a new call would be refused now (`sre.admission`): exhausted task budget or token cap, killed,
 *   throttled, quarantined or held (cost anomaly) agent, open agent breaker;
 * - the budget could not pay for another step like the last one (`projectNextStep`);
 * - the last step's tools were refused because the agent loops, is killed, held or quarantined, or is out of
 *   budget.
 *
 * The run then ends with the steps so far instead of failing on a refused model call.
 *
 * ```ts
 * generateText({ model, tools, stopWhen: [stepCountIs(20), agentSREStopWhen(sre, { agentId, taskId })] })
 * ```
 */
export function agentSREStopWhen(
  sre: AgentSRE,
  options: StopWhenOptions,
): (state: { steps: ReadonlyArray<StepLike> }) => boolean {
  const { agentId, taskId, onStop } = options;
  const admissionOptions = taskId === undefined ? undefined : { taskId };
  const project = options.projectNextStep ?? true;
  const stop = (refusal: RefusalError): boolean => {
    onStop?.(refusal);
    return true;
  };
  return ({ steps }) => {
    const refusal = sre.admission(agentId, admissionOptions);
    if (refusal !== undefined) return stop(refusal);
    const last = steps[steps.length - 1];
    if (last === undefined) return false;
    const content = last.content;
    if (content !== undefined) {
      for (const part of content) {
        if (
          part.type === "tool-error" &&
          isRefusal(part.error) &&
          STOPPING_TOOL_REFUSALS.has(part.error.code)
        ) {
          return stop(part.error);
        }
      }
    }
    if (project) {
      const next = projectedRefusal(sre, agentId, taskId, last);
      if (next !== undefined) return stop(next);
    }
    return false;
  };
}

function projectedRefusal(
  sre: AgentSRE,
  agentId: string,
  taskId: string | undefined,
  last: StepLike,
): RefusalError | undefined {
  const inputTokens = last.usage?.inputTokens ?? 0;
  const outputTokens = last.usage?.outputTokens ?? 0;
  if (!(inputTokens > 0 || outputTokens > 0)) return undefined;
  // Would another step the size of the last one still fit? The engine prices it and checks the budget.
  const options: Parameters<AgentSRE["admission"]>[1] = { estimate: { inputTokens, outputTokens } };
  if (taskId !== undefined) options.taskId = taskId;
  if (last.model?.modelId !== undefined) options.model = last.model.modelId;
  if (last.model?.provider !== undefined) options.provider = last.model.provider;
  return sre.admission(agentId, options);
}
