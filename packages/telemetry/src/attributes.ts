// Attribute and instrument names. The gen_ai.* ones follow the OpenTelemetry GenAI semantic conventions
// (spans: "{operation} {model}", client metrics gen_ai.client.*); agent_sre.* are ours.

export const ATTR_GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
export const ATTR_GEN_AI_PROVIDER_NAME = "gen_ai.provider.name";
export const ATTR_GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
export const ATTR_GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
export const ATTR_GEN_AI_TOOL_NAME = "gen_ai.tool.name";
export const ATTR_GEN_AI_AGENT_ID = "gen_ai.agent.id";
export const ATTR_GEN_AI_TOKEN_TYPE = "gen_ai.token.type";
export const ATTR_ERROR_TYPE = "error.type";

export const ATTR_AGENT = "agent_sre.agent.id";
export const ATTR_TASK = "agent_sre.task.id";
/** `allowed` (the call ran) or `refused` (pre-flight said no). */
export const ATTR_DECISION = "agent_sre.decision";
/** `ok`, `error` or `cancelled` for calls that ran. */
export const ATTR_OUTCOME = "agent_sre.outcome";
export const ATTR_REFUSAL_CODE = "agent_sre.refusal.code";
export const ATTR_COST_USD = "agent_sre.cost.usd";
export const ATTR_BREAKER_STATE = "agent_sre.breaker.state";
export const ATTR_BREAKER_ID = "agent_sre.breaker.id";
export const ATTR_BREAKER_TO = "agent_sre.breaker.to";
export const ATTR_CHAOS_EXPERIMENT = "agent_sre.chaos.experiment";
/** The fault types injected into the call (`latency`, `error`, `timeout`, `payload`, `tool-abuse`). */
export const ATTR_CHAOS_FAULT = "agent_sre.chaos.fault";
export const ATTR_SLO = "agent_sre.slo.name";
export const ATTR_SLO_WINDOW = "agent_sre.slo.window";
export const ATTR_BUDGET_SCOPE = "agent_sre.budget.scope";

/** The operation names we use for `gen_ai.operation.name`. */
export const OPERATION_CHAT = "chat";
export const OPERATION_EXECUTE_TOOL = "execute_tool";

export const METRIC_TOKEN_USAGE = "gen_ai.client.token.usage";
export const METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration";
export const METRIC_COST = "agent_sre.cost";
export const METRIC_REFUSALS = "agent_sre.refusals";
export const METRIC_BREAKER_TRANSITIONS = "agent_sre.breaker.transitions";
export const METRIC_BREAKER_STATE = "agent_sre.breaker.state";
export const METRIC_BUDGET_UTILIZATION = "agent_sre.budget.utilization";
export const METRIC_SLO_BURN_RATE = "agent_sre.slo.burn_rate";
export const METRIC_SLO_BUDGET_REMAINING = "agent_sre.slo.error_budget.remaining";

/** Bucket boundaries the GenAI semantic conventions advise. */
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
export const DURATION_BUCKETS_S = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** Breaker states as numbers for gauges: 0 closed, 1 half-open, 2 open. */
export function breakerStateValue(state: string): number {
  return state === "OPEN" ? 2 : state === "HALF_OPEN" ? 1 : 0;
}

/** A stable `error.type`: the refusal code, else the error's name (`TimeoutError`, `APICallError`), else `_OTHER`. */
export function errorType(error: unknown): string {
  if (error !== null && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z_]+$/.test(code)) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string" && name.length > 0 && name.length <= 64) return name;
  }
  return "_OTHER";
}
