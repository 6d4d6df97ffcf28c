import {
  type ConditionalPrice,
  calcPrice,
  findProvider,
  type ModelPrice,
  type PriceCalculation,
  type TieredPrices,
} from "@pydantic/genai-prices";
import { type Clock, systemClock } from "../clock.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import type { TokenUsage } from "../types.js";
import { isFiniteNonNegative } from "./money.js";

/** Prices per million tokens, in USD. Optional rates fall back: cached and cache-write → input, reasoning → output. */
export interface TokenRates {
  inputPerMTokUsd: number;
  outputPerMTokUsd: number;
  cachedInputPerMTokUsd?: number;
  cacheWritePerMTokUsd?: number;
  reasoningPerMTokUsd?: number;
}

/**
 * A price band for large requests: it applies when the request's total input tokens (cached included) are
 * strictly above `aboveInputTokens`, to every token of that request, as genai-prices' tiered prices do.
 */
export interface PriceTier extends TokenRates {
  aboveInputTokens: number;
}

export interface ModelPricing extends TokenRates {
  /** The matched model id (`gpt-4o` for `gpt-4o-2024-08-06`), or the override's name. */
  model: string;
  provider: string | undefined;
  /** A flat fee per request (a few search-grounded models charge one). */
  perRequestUsd?: number;
  /** Bands for large requests, ascending; the base rates apply below the first. */
  tiers?: readonly PriceTier[];
  source: "genai-prices" | "override";
}

/** A user price: wins over the data, also defines models the data does not know. */
export interface PriceOverride extends TokenRates {
  perRequestUsd?: number;
  tiers?: readonly PriceTier[];
}

export interface PriceCatalog {
  /** The pricing in effect now; `undefined` = unknown model (or one not priced by tokens). Memoized. */
  resolve(model: string, provider?: string): ModelPricing | undefined;
  /**
   * Cost of one call in micro-dollars, exact (not rounded: a call can cost a fraction of a micro-dollar; the
   * budget ledger rounds and carries the remainder, see money.ts); `undefined` = unknown model. `atMs`: the
   * time the caller read from the system clock (`Date.now()`) just now, for prices that change with time (a
   * price change from a date, off-peak hours): priced at it instead of a clock read of the catalog's own. A
   * catalog on a clock of its own ignores it. The engine passes the time it read for the call (a model with
   * such prices read the clock twice more per call before).
   */
  costMicros(model: string, usage: TokenUsage, provider?: string, atMs?: number): number | undefined;
}

export interface GenAIPriceCatalogOptions {
  /** Keyed by model name (`"my-model"`) or `"provider/model"`; matched case-insensitively. */
  overrides?: Record<string, PriceOverride>;
  /** Provider id used when a call names none (genai-prices ids: `openai`, `anthropic`, `google`, ...). */
  provider?: string;
  /** Picks time-dependent prices (price changes, off-peak windows). Default `systemClock`. */
  clock?: Clock;
  /** Most memoized lookups (hits and misses) before the memo is cleared. Default 4096. */
  maxEntries?: number;
  /** @internal The config path named in errors about `overrides` (e.g. `models` when AgentSRE builds it). */
  overridesField?: string;
}

/**
 * Rates of one input-size band in µUSD per token, which is numerically USD per million tokens, so the data's
 * `*_mtok` prices are used as they are. Fallbacks are already applied.
 */
interface RateBand {
  readonly above: number;
  readonly input: number;
  readonly cached: number;
  readonly cacheWrite: number;
  readonly output: number;
  readonly reasoning: number;
  /** µUSD per request. */
  readonly request: number;
}

interface PricedModel {
  readonly pricing: ModelPricing;
  readonly bands: readonly RateBand[];
}

const ALWAYS = 0;
const FROM_DATE = 1;
const TIME_OF_DAY = 2;

interface TimedVariant {
  readonly kind: typeof ALWAYS | typeof FROM_DATE | typeof TIME_OF_DAY;
  readonly fromMs: number;
  readonly startSecond: number;
  readonly endSecond: number;
  readonly priced: PricedModel | undefined;
}

/** A memoized lookup: a fixed price (the fast path), or time-dependent variants picked per call. */
interface CatalogEntry {
  readonly fixed: PricedModel | undefined;
  readonly variants: readonly TimedVariant[] | undefined;
}

const DAY_MS = 86_400_000;
const OVERRIDE_KEYS = new Set([
  "inputPerMTokUsd",
  "outputPerMTokUsd",
  "cachedInputPerMTokUsd",
  "cacheWritePerMTokUsd",
  "reasoningPerMTokUsd",
  "perRequestUsd",
  "tiers",
]);
const TIER_KEYS = new Set([
  "aboveInputTokens",
  "inputPerMTokUsd",
  "outputPerMTokUsd",
  "cachedInputPerMTokUsd",
  "cacheWritePerMTokUsd",
  "reasoningPerMTokUsd",
]);

/**
 * Model prices from `@pydantic/genai-prices` (about 1,500 prices across 40+ providers), memoized per
 * (provider, model) so that a lookup after the first costs two `Map` reads instead of genai-prices' ~16 µs
 * match. Model names resolve as genai-prices resolves them (`gpt-4o-2024-08-06` → `gpt-4o`, provider ids
 * such as `openai.chat` → `openai`), plus: an unknown provider id falls back to matching the model alone, and
 * `"openai/gpt-4o"` splits into provider and model (genai-prices' LiteLLM convention). Misses are memoized too.
 * The memo holds at most `maxEntries` lookups and is cleared when full (model names are few in practice).
 * If you update genai-prices' data at run time (`updatePrices`), call `clear()`.
 *
 * A model known to genai-prices but not priced by tokens (audio hours, document pages, empty prices) is
 * `undefined` here: budgets fail closed on it rather than count it as free.
 */
export class GenAIPriceCatalog implements PriceCatalog {
  readonly #overrides = new Map<string, PricedModel>();
  readonly #defaultProvider: string | undefined;
  readonly #clock: Clock;
  readonly #maxEntries: number;
  /** provider ("" for none) → model name as given → entry, or `null` for a memoized miss. */
  readonly #memo = new Map<string, Map<string, CatalogEntry | null>>();
  #size = 0;
  #lastModel: string | undefined = undefined;
  #lastProvider: string | undefined = undefined;
  #lastEntry: CatalogEntry | undefined = undefined;

  constructor(options: GenAIPriceCatalogOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new ConfigError("options", options, "an object");
    }
    if (options.provider !== undefined && (typeof options.provider !== "string" || options.provider === "")) {
      throw new ConfigError("provider", options.provider, "a non-empty provider id");
    }
    this.#defaultProvider = options.provider;
    this.#clock = options.clock ?? systemClock;
    const maxEntries = options.maxEntries ?? 4096;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError("maxEntries", options.maxEntries, "an integer >= 1");
    }
    this.#maxEntries = maxEntries;
    const overrides = options.overrides ?? {};
    if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
      throw new ConfigError("overrides", overrides, "an object keyed by model name");
    }
    for (const [name, value] of Object.entries(overrides)) {
      const key = normalizeName(name);
      if (key === "") throw new ConfigError("overrides", name, "non-empty model names as keys");
      this.#overrides.set(key, compileOverride(name, value, options.overridesField ?? "overrides"));
    }
  }

  resolve(model: string, provider?: string): ModelPricing | undefined {
    const entry = this.#lookup(model, provider);
    if (entry === undefined) return undefined;
    return (entry.fixed ?? this.#variantNow(entry))?.pricing;
  }

  costMicros(model: string, usage: TokenUsage, provider?: string, atMs?: number): number | undefined {
    const entry = this.#lookup(model, provider);
    if (entry === undefined) return undefined;
    const priced =
      entry.fixed ??
      this.#variantAt(entry, atMs !== undefined && this.#clock === systemClock ? atMs : this.#clock.now());
    return priced === undefined ? undefined : costOfUsage(priced.bands, usage);
  }

  /** Forgets every memoized lookup. */
  clear(): void {
    this.#memo.clear();
    this.#size = 0;
    this.#lastModel = undefined;
    this.#lastEntry = undefined;
  }

  /** Number of memoized lookups, hits and misses (for diagnostics). */
  get size(): number {
    return this.#size;
  }

  #lookup(model: string, provider: string | undefined): CatalogEntry | undefined {
    // The model looked up last (a call is priced twice: its estimate, then its usage).
    if (this.#lastModel !== undefined && model === this.#lastModel && provider === this.#lastProvider) {
      return this.#lastEntry;
    }
    const entry = this.#memoized(model, provider);
    this.#lastModel = model;
    this.#lastProvider = provider;
    this.#lastEntry = entry;
    return entry;
  }

  #memoized(model: string, provider: string | undefined): CatalogEntry | undefined {
    const providerKey = provider ?? this.#defaultProvider ?? "";
    let byModel = this.#memo.get(providerKey);
    if (byModel !== undefined) {
      const hit = byModel.get(model);
      if (hit !== undefined) return hit === null ? undefined : hit;
    }
    if (typeof model !== "string") throw new InvalidArgumentError("model", model, "a model name");
    const entry = this.#load(model, providerKey === "" ? undefined : providerKey);
    if (this.#size >= this.#maxEntries) this.clear();
    byModel = this.#memo.get(providerKey);
    if (byModel === undefined) {
      byModel = new Map();
      this.#memo.set(providerKey, byModel);
    }
    byModel.set(model, entry ?? null);
    this.#size++;
    return entry;
  }

  #load(model: string, provider: string | undefined): CatalogEntry | undefined {
    const name = normalizeName(model);
    if (name === "") return undefined;
    const override =
      (provider === undefined ? undefined : this.#overrides.get(`${normalizeName(provider)}/${name}`)) ??
      this.#overrides.get(name);
    if (override !== undefined) {
      const pricing = { ...override.pricing, provider };
      return { fixed: { pricing, bands: override.bands }, variants: undefined };
    }
    const found = findInGenAIPrices(model, provider, this.#clock.now());
    if (found === undefined) return undefined;
    const modelId = found.model.id;
    const providerId = found.provider.id;
    if (!Array.isArray(found.model.prices)) {
      const fixed = compileModelPrice(found.model_price, modelId, providerId);
      return fixed === undefined ? undefined : { fixed, variants: undefined };
    }
    const variants = (found.model.prices as ConditionalPrice[]).map((conditional) =>
      compileVariant(conditional, modelId, providerId),
    );
    return { fixed: undefined, variants };
  }

  #variantNow(entry: CatalogEntry): PricedModel | undefined {
    return this.#variantAt(entry, this.#clock.now());
  }

  #variantAt(entry: CatalogEntry, nowMs: number): PricedModel | undefined {
    const variants = entry.variants as readonly TimedVariant[];
    // genai-prices' rule: the last variant whose constraint holds wins; none → the first.
    for (let i = variants.length - 1; i >= 0; i--) {
      const variant = variants[i] as TimedVariant;
      if (variant.kind === ALWAYS) return variant.priced;
      if (variant.kind === FROM_DATE) {
        if (nowMs >= variant.fromMs) return variant.priced;
        continue;
      }
      const second = (((nowMs % DAY_MS) + DAY_MS) % DAY_MS) / 1000;
      const inWindow =
        variant.endSecond < variant.startSecond
          ? second >= variant.startSecond || second < variant.endSecond
          : second >= variant.startSecond && second < variant.endSecond;
      if (inWindow) return variant.priced;
    }
    return variants[0]?.priced;
  }
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

function tryCalcPrice(
  model: string,
  providerId: string | undefined,
  timestamp: Date,
): PriceCalculation | null {
  try {
    return calcPrice({}, model, providerId === undefined ? { timestamp } : { providerId, timestamp });
  } catch {
    return null;
  }
}

function findInGenAIPrices(
  model: string,
  provider: string | undefined,
  nowMs: number,
): PriceCalculation | undefined {
  const timestamp = new Date(nowMs);
  let found = tryCalcPrice(model, provider, timestamp);
  if (found === null && provider !== undefined && findProvider({ providerId: provider }) === undefined) {
    found = tryCalcPrice(model, undefined, timestamp);
  }
  if (found === null && model.includes("/")) found = tryCalcPrice(model, "litellm", timestamp);
  return found ?? undefined;
}

type PriceValue = number | TieredPrices | undefined;

/** The price of one key for requests in the band that starts above `bandStart` input tokens. */
function priceInBand(value: PriceValue, bandStart: number): number | undefined {
  if (value === undefined || typeof value === "number") return value;
  let price = value.base;
  let bestStart = Number.NEGATIVE_INFINITY;
  for (const tier of value.tiers) {
    if (tier.start <= bandStart && tier.start >= bestStart) {
      price = tier.price;
      bestStart = tier.start;
    }
  }
  return price;
}

function compileModelPrice(prices: ModelPrice, model: string, provider: string): PricedModel | undefined {
  const input = prices.input_mtok as PriceValue;
  const output = prices.output_mtok as PriceValue;
  if (input === undefined && output === undefined) return undefined;
  const cached = prices.cache_read_mtok as PriceValue;
  const cacheWrite = prices.cache_write_mtok as PriceValue;
  const reasoning = prices.output_reasoning_mtok as PriceValue;
  const requests = prices.requests_kcount as PriceValue;
  const starts = new Set<number>();
  for (const value of [input, output, cached, cacheWrite, reasoning, requests]) {
    if (value !== undefined && typeof value === "object")
      for (const tier of value.tiers) starts.add(tier.start);
  }
  const bandStarts = [Number.NEGATIVE_INFINITY, ...[...starts].sort((a, b) => a - b)];
  const bands: RateBand[] = bandStarts.map((start) => {
    const inputRate = priceInBand(input, start) ?? 0;
    const outputRate = priceInBand(output, start) ?? 0;
    return {
      above: start,
      input: inputRate,
      cached: priceInBand(cached, start) ?? inputRate,
      cacheWrite: priceInBand(cacheWrite, start) ?? inputRate,
      output: outputRate,
      reasoning: priceInBand(reasoning, start) ?? outputRate,
      // `requests_kcount` is USD per 1,000 requests = 1,000 µUSD per request per unit.
      request: (priceInBand(requests, start) ?? 0) * 1000,
    };
  });
  const toRates = (band: RateBand): TokenRates => {
    const rates: TokenRates = { inputPerMTokUsd: band.input, outputPerMTokUsd: band.output };
    if (cached !== undefined) rates.cachedInputPerMTokUsd = band.cached;
    if (cacheWrite !== undefined) rates.cacheWritePerMTokUsd = band.cacheWrite;
    if (reasoning !== undefined) rates.reasoningPerMTokUsd = band.reasoning;
    return rates;
  };
  const base = bands[0] as RateBand;
  const pricing: ModelPricing = { model, provider, ...toRates(base), source: "genai-prices" };
  if (requests !== undefined) pricing.perRequestUsd = base.request / 1_000_000;
  if (bands.length > 1) {
    pricing.tiers = bands.slice(1).map((band) => ({ aboveInputTokens: band.above, ...toRates(band) }));
  }
  return { pricing, bands };
}

function parseTimeOfDay(value: string): number {
  const match = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(value);
  if (match === null) throw new Error(`invalid time of day ${value}`);
  const seconds =
    Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) + Number(`0.${match[4] ?? ""}`);
  const offsetSeconds =
    match[5] === "Z" ? 0 : (match[6] === "+" ? 1 : -1) * (Number(match[7]) * 3600 + Number(match[8]) * 60);
  return (seconds - offsetSeconds + 86_400) % 86_400;
}

function compileVariant(conditional: ConditionalPrice, model: string, provider: string): TimedVariant {
  const priced = compileModelPrice(conditional.prices, model, provider);
  const constraint = conditional.constraint;
  if (constraint === undefined || constraint === null) {
    return { kind: ALWAYS, fromMs: 0, startSecond: 0, endSecond: 0, priced };
  }
  if (constraint.type === "start_date") {
    return {
      kind: FROM_DATE,
      fromMs: Date.parse(constraint.start_date),
      startSecond: 0,
      endSecond: 0,
      priced,
    };
  }
  return {
    kind: TIME_OF_DAY,
    fromMs: 0,
    startSecond: parseTimeOfDay(constraint.start_time),
    endSecond: parseTimeOfDay(constraint.end_time),
    priced,
  };
}

function requireRate(value: unknown, field: string, required: boolean): number | undefined {
  if (value === undefined && !required) return undefined;
  if (!isFiniteNonNegative(value))
    throw new ConfigError(field, value, "a price in USD per million tokens >= 0");
  return value;
}

function ratesOf(value: Record<string, unknown>, field: string): TokenRates {
  const rates: TokenRates = {
    inputPerMTokUsd: requireRate(value.inputPerMTokUsd, `${field}.inputPerMTokUsd`, true) as number,
    outputPerMTokUsd: requireRate(value.outputPerMTokUsd, `${field}.outputPerMTokUsd`, true) as number,
  };
  const cached = requireRate(value.cachedInputPerMTokUsd, `${field}.cachedInputPerMTokUsd`, false);
  const cacheWrite = requireRate(value.cacheWritePerMTokUsd, `${field}.cacheWritePerMTokUsd`, false);
  const reasoning = requireRate(value.reasoningPerMTokUsd, `${field}.reasoningPerMTokUsd`, false);
  if (cached !== undefined) rates.cachedInputPerMTokUsd = cached;
  if (cacheWrite !== undefined) rates.cacheWritePerMTokUsd = cacheWrite;
  if (reasoning !== undefined) rates.reasoningPerMTokUsd = reasoning;
  return rates;
}

function checkKeys(value: Record<string, unknown>, allowed: Set<string>, field: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new ConfigError(`${field}.${key}`, value[key], `one of ${[...allowed].join(", ")}`);
    }
  }
}

function bandOf(rates: TokenRates, above: number, requestMicros: number): RateBand {
  return {
    above,
    input: rates.inputPerMTokUsd,
    cached: rates.cachedInputPerMTokUsd ?? rates.inputPerMTokUsd,
    cacheWrite: rates.cacheWritePerMTokUsd ?? rates.inputPerMTokUsd,
    output: rates.outputPerMTokUsd,
    reasoning: rates.reasoningPerMTokUsd ?? rates.outputPerMTokUsd,
    request: requestMicros,
  };
}

function compileOverride(name: string, value: unknown, root: string): PricedModel {
  const field =
    root !== "overrides" && /^[A-Za-z_$][\w$]*$/.test(name)
      ? `${root}.${name}`
      : `${root}[${JSON.stringify(name)}]`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(field, value, "a price override object");
  }
  const raw = value as Record<string, unknown>;
  checkKeys(raw, OVERRIDE_KEYS, field);
  const rates = ratesOf(raw, field);
  const pricing: ModelPricing = { model: name, provider: undefined, ...rates, source: "override" };
  let requestMicros = 0;
  if (raw.perRequestUsd !== undefined) {
    if (!isFiniteNonNegative(raw.perRequestUsd)) {
      throw new ConfigError(`${field}.perRequestUsd`, raw.perRequestUsd, "a price in USD >= 0");
    }
    pricing.perRequestUsd = raw.perRequestUsd;
    requestMicros = raw.perRequestUsd * 1_000_000;
  }
  const bands = [bandOf(rates, Number.NEGATIVE_INFINITY, requestMicros)];
  if (raw.tiers !== undefined) {
    if (!Array.isArray(raw.tiers)) throw new ConfigError(`${field}.tiers`, raw.tiers, "an array of tiers");
    const tiers: PriceTier[] = [];
    let previous = -1;
    raw.tiers.forEach((tier: unknown, index) => {
      const tierField = `${field}.tiers[${index}]`;
      if (typeof tier !== "object" || tier === null) throw new ConfigError(tierField, tier, "a tier object");
      const rawTier = tier as Record<string, unknown>;
      checkKeys(rawTier, TIER_KEYS, tierField);
      const above = rawTier.aboveInputTokens;
      if (typeof above !== "number" || !Number.isInteger(above) || above <= previous) {
        throw new ConfigError(
          `${tierField}.aboveInputTokens`,
          above,
          "an integer >= 0, ascending across tiers",
        );
      }
      previous = above;
      const tierRates = ratesOf(rawTier, tierField);
      tiers.push({ aboveInputTokens: above, ...tierRates });
      bands.push(bandOf(tierRates, above, requestMicros));
    });
    if (tiers.length > 0) pricing.tiers = tiers;
  }
  return { pricing, bands };
}

function requireTokens(value: number | undefined, field: string): number {
  if (value === undefined) return 0;
  if (!isFiniteNonNegative(value)) throw new InvalidArgumentError(field, value, "a token count >= 0");
  return value;
}

/**
 * Cost in µUSD, exact (never rounded here): uncached input at the input rate, cached and
 * cache-written input at their rates, output at the output rate, reasoning at the reasoning rate (the output
 * rate when the model has none), plus any per-request fee. The band is chosen by total input tokens.
 * Inconsistent subsets (cached + cache-write above input, reasoning above output) are charged as reported,
 * with no negative remainder.
 */
function costOfUsage(bands: readonly RateBand[], usage: TokenUsage): number {
  // The usual usage — input and output only, one band — in fewer steps: the same sum (each term the general
  // path adds on top is + 0, which leaves a sum of non-negative terms exactly as it is).
  if (
    bands.length === 1 &&
    usage.cachedInputTokens === undefined &&
    usage.cacheWriteTokens === undefined &&
    usage.reasoningTokens === undefined
  ) {
    const band = bands[0] as RateBand;
    return (
      requireTokens(usage.inputTokens, "usage.inputTokens") * band.input +
      requireTokens(usage.outputTokens, "usage.outputTokens") * band.output +
      band.request
    );
  }
  const input = requireTokens(usage.inputTokens, "usage.inputTokens");
  const output = requireTokens(usage.outputTokens, "usage.outputTokens");
  const cached = requireTokens(usage.cachedInputTokens, "usage.cachedInputTokens");
  const cacheWrite = requireTokens(usage.cacheWriteTokens, "usage.cacheWriteTokens");
  const reasoning = requireTokens(usage.reasoningTokens, "usage.reasoningTokens");
  let index = bands.length - 1;
  while (index > 0 && !(input > (bands[index] as RateBand).above)) index--;
  const band = bands[index] as RateBand;
  const uncachedInput = input > cached + cacheWrite ? input - cached - cacheWrite : 0;
  const plainOutput = output > reasoning ? output - reasoning : 0;
  return (
    uncachedInput * band.input +
    cached * band.cached +
    cacheWrite * band.cacheWrite +
    plainOutput * band.output +
    reasoning * band.reasoning +
    band.request
  );
}
