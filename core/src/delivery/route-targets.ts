import { ConfigError } from "../errors.js";
import type { ModelRoute } from "./delivery.js";

/**
 * The models a delivery may route a call to (rollout variants, downgrade targets), by model id: a record,
 * or a factory such as `(id) => openai(id)` (called once per id).
 */
export type RouteModels<M> = Readonly<Record<string, M>> | ((modelId: string) => M);

/** What an adapter tells the table about its framework's models. */
export interface RouteTargetKind<M> {
  /** How the framework's model is called in messages: "language model", "chat model". */
  noun: string;
  /** The id a model answers to (a routed call to the requested model's own id stays on it). */
  idOf(model: M): string;
  /** Whether a value is one of the framework's models. */
  isModel(value: unknown): value is M;
}

/**
 * Resolves the model ids a delivery routes to into the adapter's model objects, each id once; a missing or
 * wrong entry is a ConfigError naming the rollout (or downgrade) that asked for it. Shared by every adapter.
 */
export class RouteTargets<M> {
  readonly #source: RouteModels<M> | undefined;
  readonly #kind: RouteTargetKind<M>;
  readonly #cache = new Map<string, M>();

  constructor(source: RouteModels<M> | undefined, kind: RouteTargetKind<M>) {
    if (
      source !== undefined &&
      typeof source !== "function" &&
      (typeof source !== "object" || source === null)
    ) {
      throw new ConfigError("models", source, `a record of model id → ${kind.noun}, or (id) => model`);
    }
    this.#source = source;
    this.#kind = kind;
  }

  get(modelId: string, requested: M, route: ModelRoute): M {
    if (modelId === this.#kind.idOf(requested)) return requested;
    const cached = this.#cache.get(modelId);
    if (cached !== undefined) return cached;
    const source = this.#source;
    const model: unknown =
      typeof source === "function"
        ? source(modelId)
        : source !== undefined && Object.hasOwn(source, modelId)
          ? source[modelId]
          : undefined;
    if (!this.#kind.isModel(model)) {
      const why = route.downgraded
        ? `the budget downgrade of agent "${route.agentId}"`
        : `rollout "${route.rolloutId}" (variant "${route.variantId}")`;
      throw new ConfigError(
        `models.${modelId}`,
        model,
        `a ${this.#kind.noun}: ${why} routes ${route.requestedModel} calls to ${modelId}`,
      );
    }
    this.#cache.set(modelId, model);
    return model;
  }
}
