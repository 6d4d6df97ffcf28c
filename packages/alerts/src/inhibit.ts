import type { Alert } from "./alert.js";
import { type CompiledMatcher, compileMatchers, type Matcher, matchAll } from "./matchers.js";

/**
 * Inhibition (Alertmanager semantics): while an alert matching `sourceMatchers` fires, alerts matching
 * `targetMatchers` that carry the same values for every `equal` label are not notified. An alert never
 * inhibits itself.
 */
export interface InhibitRule {
  sourceMatchers: ReadonlyArray<Matcher | string>;
  targetMatchers: ReadonlyArray<Matcher | string>;
  equal?: readonly string[];
}

/** The default: a budget kill mutes that agent's (and scope's) budget threshold and throttle alerts. */
export const DEFAULT_INHIBIT_RULES: readonly InhibitRule[] = [
  {
    sourceMatchers: ['alertname="BudgetKill"'],
    targetMatchers: ['alertname=~"BudgetThreshold|BudgetThrottle"'],
    equal: ["agent", "scope"],
  },
  {
    sourceMatchers: ['alertname="AgentQuarantined"'],
    targetMatchers: ['alertname="RogueRisk"'],
    equal: ["agent"],
  },
];

interface CompiledRule {
  source: CompiledMatcher[];
  target: CompiledMatcher[];
  equal: readonly string[];
}

export class Inhibitor {
  readonly #rules: CompiledRule[];

  constructor(rules: readonly InhibitRule[]) {
    this.#rules = rules.map((rule) => ({
      source: compileMatchers(rule.sourceMatchers),
      target: compileMatchers(rule.targetMatchers),
      equal: rule.equal ?? [],
    }));
  }

  /** The fingerprint of a firing alert that inhibits `alert`, if any. */
  inhibitedBy(alert: Alert, firing: Iterable<Alert>): string | undefined {
    if (this.#rules.length === 0) return undefined;
    const rules = this.#rules.filter((rule) => matchAll(rule.target, alert.labels));
    if (rules.length === 0) return undefined;
    for (const source of firing) {
      if (source.status !== "firing" || source.fingerprint === alert.fingerprint) continue;
      for (const rule of rules) {
        if (
          matchAll(rule.source, source.labels) &&
          rule.equal.every((label) => (source.labels[label] ?? "") === (alert.labels[label] ?? ""))
        ) {
          return source.fingerprint;
        }
      }
    }
    return undefined;
  }
}
