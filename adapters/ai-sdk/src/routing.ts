import type { RouteModels as CoreRouteModels, Delivery, ModelRoute } from "@agent-sre/core";
import { RouteTargets } from "@agent-sre/core";
import type {
  AgentSREProviderOptions,
  CallOptionsLike,
  GenerateResultLike,
  LanguageModelLike,
} from "./types.js";
import { toUsageReport } from "./usage.js";

/** The AI SDK's language models as routing targets (see `RouteTargets` in core). */
export type RouteModels = CoreRouteModels<LanguageModelLike>;
export type ModelTable = RouteTargets<LanguageModelLike>;

export function modelTable(source: RouteModels | undefined): ModelTable {
  return new RouteTargets<LanguageModelLike>(source, {
    noun: "language model",
    idOf: (model) => model.modelId,
    isModel: (value): value is LanguageModelLike =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as LanguageModelLike).doGenerate === "function",
  });
}

/** A routed call: the model that answers it, and why (undefined when it goes where it asked). */
export interface Routed {
  readonly target: LanguageModelLike;
  readonly route: ModelRoute | undefined;
  /** The candidate's model when this call is also mirrored to it. */
  readonly shadow: LanguageModelLike | undefined;
}

/** Asks the engine's delivery where this call goes (only when a `Delivery` is attached). */
export function routeCall(
  delivery: Delivery,
  models: ModelTable,
  agentId: string,
  taskId: string | undefined,
  params: CallOptionsLike,
  model: LanguageModelLike,
): Routed {
  const perRequest = params.providerOptions?.agentSre as AgentSREProviderOptions | undefined;
  if (perRequest !== undefined && perRequest !== null) {
    if (typeof perRequest.agentId === "string" && perRequest.agentId.length > 0) agentId = perRequest.agentId;
    if (typeof perRequest.taskId === "string") taskId = perRequest.taskId;
  }
  const route = delivery.route(agentId, taskId, model.modelId);
  if (route === undefined) return { target: model, route, shadow: undefined };
  // Both resolved before the call is admitted: a missing model is a configuration error, not a failed call.
  const target = models.get(route.model, model, route);
  const shadow = route.mirror === undefined ? undefined : models.get(route.mirror.model, model, route);
  return { target, route, shadow };
}

/**
 * Sends the shadow copy of a call to the candidate (as a generate call, whatever the caller's mode), without
 * the caller's abort signal: it runs off the caller's path and its result is discarded.
 */
export function startMirror(delivery: Delivery, routed: Routed, params: CallOptionsLike): void {
  const { route, shadow } = routed;
  if (route === undefined || shadow === undefined) return;
  const { abortSignal: _signal, ...rest } = params;
  delivery.mirror(
    route,
    () => shadow.doGenerate(rest) as PromiseLike<GenerateResultLike>,
    (result) => toUsageReport(result?.usage, result?.providerMetadata),
    shadow.provider,
  );
}
