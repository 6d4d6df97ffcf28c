/**
 * Chaos engineering where faults are really applied at the interception point.
 *
 * Engine contract, per guarded call:
 * 1. pre-flight: `if (chaos.hasActive) plan = chaos.plan({ agentId, kind, name })` — decides, seeded and
 *    within each experiment's blast radius, which faults hit the call (`undefined`: none);
 * 2. execution: run `plan.faults` in order — `latency` → `sleep(clock, delayMs, signal)` then go on;
 *    `error` → throw `error` (a retryable `ChaosInjectedError`); `timeout` → wait `delayMs` (abortable), then
 *    fail with `TimeoutError` without running the call; `payload` → `injectPayload()` into the model input
 *    (`where: "input"`) or the tool result (`where: "result"`); `tool-abuse` → run a synthetic pre-flight for
 *    `toolName` and `chaos.reportAdversarialOutcome(plan.experiment, faultId, "blocked" | "passed")`;
 * 3. post-flight: `chaos.observe(observation)` feeds the live metrics that abort conditions watch.
 */
export {
  ABORT_COMPARATORS,
  type AbortComparator,
  type AbortCondition,
  CHAOS_METRICS,
  type ChaosMetric,
  type ChaosMetrics,
  DEFAULT_ABORT_MIN_SAMPLES,
  type ResolvedAbortCondition,
} from "./abort.js";
export { ChaosController, type ChaosControllerOptions } from "./controller.js";
export { ChaosExperiment } from "./experiment.js";
export {
  ADVERSARIAL_OUTCOMES,
  type AdversarialOutcome,
  type AdversarialReport,
  type BlastRadius,
  type ChaosCall,
  type ChaosExperimentConfig,
  type ChaosExperimentReport,
  type ChaosRuntime,
  type ExperimentState,
  type FaultApplication,
  type InjectionPlan,
} from "./experiment-types.js";
export {
  ADVERSARIAL_FAULT_TYPES,
  type AdversarialFault,
  ERROR_KINDS,
  type ErrorFault,
  errorInjection,
  FAULT_TYPE_ALIASES,
  FAULT_TYPES,
  Fault,
  type FaultOptions,
  type FaultType,
  isAdversarialFault,
  type LatencyFault,
  latencyInjection,
  normalizeFaultType,
  type PayloadPlacement,
  type PrivilegeEscalationFault,
  type PromptInjectionFault,
  privilegeEscalation,
  promptInjection,
  type TimeoutFault,
  type ToolAbuseFault,
  TRANSIENT_STATUSES,
  timeoutInjection,
  toolAbuse,
  validateFault,
} from "./faults.js";
export { LatencyHistogram } from "./histogram.js";
export {
  CHAOS_TEMPLATES,
  ChaosLibrary,
  type ChaosTemplate,
  type TemplateCategory,
  type TemplateOverrides,
  type TemplateSeverity,
} from "./library.js";
export {
  buildPrivilegeEscalationPayload,
  buildPromptInjectionPayload,
  CHAOS_CANARY,
  containsCanary,
  DEFAULT_HIJACK_TOOL,
  injectPayload,
  normalizeTechnique,
  PROMPT_INJECTION_PAYLOADS,
  PROMPT_INJECTION_TECHNIQUE_ALIASES,
  PROMPT_INJECTION_TECHNIQUES,
  type PromptInjectionTechnique,
} from "./payloads.js";
export {
  calculateResilience,
  RESILIENCE_LATENCY_WEIGHT,
  RESILIENCE_SUCCESS_WEIGHT,
  type ResilienceSample,
} from "./resilience.js";
export { fmix32, hashString, mulberry32, type Rng, seededUnit, toSeed } from "./rng.js";
export {
  type BlackoutWindow,
  type ChaosRunOutcome,
  type ChaosRunRecord,
  type ChaosRunStore,
  type ChaosSchedule,
  ChaosScheduler,
  type ChaosSchedulerHost,
  type ChaosSchedulerOptions,
  MemoryChaosRunStore,
} from "./scheduler.js";
export {
  compileGlob,
  compileTarget,
  matchesTarget,
  type ParsedTarget,
  parseTarget,
  type TargetCall,
  type TargetMatcher,
  type TargetScope,
} from "./target.js";
