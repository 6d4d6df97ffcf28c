import { ConfigError } from "../errors.js";
import type { TokenUsage } from "../types.js";
import {
  GenAIPriceCatalog,
  type ModelPricing,
  type PriceCatalog,
  type PriceOverride,
} from "./price-catalog.js";

/**
 * The `models` configuration: a name maps either to another model (an alias: an Azure deployment, a proxy
 * route, a fine-tune priced as its base model) or to a custom price (self-hosted or private models).
 */
export type ModelsConfig = Record<string, string | PriceOverride>;

const MAX_MEMO = 4096;

/**
 * A price catalog that consults the configured aliases and custom prices first, then the catalog it wraps
 * (genai-prices by default). Names match case-insensitively; an alias may point at a custom price. Routing is
 * memoized per name as given, so a lookup costs one extra `Map` read.
 */
export class ModelTable implements PriceCatalog {
  readonly #inner: PriceCatalog;
  readonly #custom: GenAIPriceCatalog | undefined;
  readonly #customNames = new Set<string>();
  readonly #aliases = new Map<string, string>();
  /** Name as given → where and under which name it is priced (memoized, bounded). */
  readonly #routes = new Map<string, Route>();

  constructor(inner: PriceCatalog, models: ModelsConfig, field = "models") {
    if (typeof models !== "object" || models === null || Array.isArray(models)) {
      throw new ConfigError(field, models, "an object: model name → alias (a model name) or custom price");
    }
    this.#inner = inner;
    const customs: Record<string, PriceOverride> = {};
    const problems: ConfigError[] = [];
    for (const [name, value] of Object.entries(models)) {
      const key = normalize(name);
      const path = /^[A-Za-z_$][\w$]*$/.test(name) ? `${field}.${name}` : `${field}[${JSON.stringify(name)}]`;
      if (key === "") problems.push(new ConfigError(path, name, "a non-empty model name"));
      else if (typeof value === "string") {
        if (normalize(value) === "" || normalize(value) === key) {
          problems.push(new ConfigError(path, value, "the name of another model (an alias)"));
        } else this.#aliases.set(key, value.trim());
      } else {
        customs[name] = value;
        this.#customNames.add(key);
      }
    }
    if (problems.length > 0) throw ConfigError.combine(problems);
    this.#custom =
      this.#customNames.size === 0
        ? undefined
        : new GenAIPriceCatalog({ overrides: customs, overridesField: field });
  }

  resolve(model: string, provider?: string): ModelPricing | undefined {
    const route = this.#route(model);
    if (route.custom) return this.#custom?.resolve(route.name);
    return this.#inner.resolve(route.name, provider);
  }

  costMicros(model: string, usage: TokenUsage, provider?: string, atMs?: number): number | undefined {
    const route = this.#route(model);
    if (route.custom) return this.#custom?.costMicros(route.name, usage, undefined, atMs);
    return this.#inner.costMicros(route.name, usage, provider, atMs);
  }

  #route(model: string): Route {
    const hit = this.#routes.get(model);
    if (hit !== undefined) return hit;
    const key = normalize(model);
    const target = this.#aliases.get(key);
    const name = target ?? model;
    const route: Route = { custom: this.#customNames.has(normalize(name)), name };
    if (this.#routes.size >= MAX_MEMO) this.#routes.clear();
    this.#routes.set(model, route);
    return route;
  }
}

interface Route {
  /** Priced by the custom table (else by the wrapped catalog). */
  readonly custom: boolean;
  /** The name to price: the alias target, or the name as given. */
  readonly name: string;
}

function normalize(name: string): string {
  return typeof name === "string" ? name.trim().toLowerCase() : "";
}
