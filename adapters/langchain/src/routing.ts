import {
  type RouteModels as CoreRouteModels,
  type Delivery,
  type ModelRoute,
  RouteTargets,
} from "@agent-sre/core";
import type { BaseMessage } from "@langchain/core/messages";
import type { ModelRequest } from "langchain";
import { modelInfo } from "./models.js";
import { aiMessageOf, usageFromMessage } from "./usage.js";

type ChatModel = ModelRequest["model"];

/** LangChain chat models as routing targets (see `RouteTargets` in core). */
export type RouteModels = CoreRouteModels<ChatModel>;
export type ModelTable = RouteTargets<ChatModel>;

export function modelTable(source: RouteModels | undefined): ModelTable {
  return new RouteTargets<ChatModel>(source, {
    noun: "chat model",
    idOf: (model) => modelInfo(model).name,
    isModel: (value): value is ChatModel =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as { invoke?: unknown }).invoke === "function",
  });
}

/** Routes a model request through the engine's delivery; the request is unchanged when it goes where it asked. */
export function routeRequest<R extends ModelRequest<Record<string, unknown>, unknown>>(
  delivery: Delivery,
  models: ModelTable,
  agentId: string,
  taskId: string | undefined,
  request: R,
): { request: R; route: ModelRoute | undefined; shadow: ChatModel | undefined } {
  const route = delivery.route(agentId, taskId, modelInfo(request.model).name);
  if (route === undefined) return { request, route, shadow: undefined };
  // Both resolved before the call is admitted: a missing model is a configuration error, not a failed call.
  const target = models.get(route.model, request.model, route);
  const shadow =
    route.mirror === undefined ? undefined : models.get(route.mirror.model, request.model, route);
  return { request: target === request.model ? request : { ...request, model: target }, route, shadow };
}

/**
 * The shadow copy of a model call, to the rollout's candidate: the same messages (and tools, when the model
 * binds them), invoked directly — not through the agent's handler, so nothing of it reaches the agent's state,
 * stream or callbacks — without the run's signal. Its result is discarded; its outcome and cost go to the
 * rollout, never to the agent's budget.
 */
export function mirrorCall(
  delivery: Delivery,
  route: ModelRoute,
  shadow: ChatModel,
  request: ModelRequest<Record<string, unknown>, unknown>,
  provider: string | undefined,
): void {
  const name = route.mirror?.model ?? modelInfo(shadow).name;
  const messages: BaseMessage[] = [];
  const system = request.systemMessage;
  if (system !== undefined && (typeof system.content !== "string" || system.content.length > 0)) {
    messages.push(system);
  }
  messages.push(...request.messages);
  delivery.mirror(
    route,
    () => {
      const withTools = shadow as { bindTools?: (tools: unknown[]) => ChatModel };
      const model =
        request.tools.length > 0 && typeof withTools.bindTools === "function"
          ? withTools.bindTools(request.tools as unknown[])
          : shadow;
      return (model as { invoke(input: BaseMessage[]): Promise<unknown> }).invoke(messages);
    },
    (result) => usageFromMessage(aiMessageOf(result), name),
    provider,
  );
}
