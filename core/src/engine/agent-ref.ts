import { ConfigError } from "../errors.js";
import type { AgentState, EngineContext } from "./context.js";

/**
 * An agent bound once (`sre.agentRef(agentId)`), passed with its calls as `call.agentRef`: the engine reaches
 * the agent's state through it instead of looking the id up in its table of agents. For an agent among
 * thousands that lookup is the call's costliest memory access — the table's bucket is a line picked by the
 * id's hash, a cache miss the hardware cannot fetch ahead — so an adapter made for one agent binds it once.
 * A ref stays valid while its agent is forgotten and tracked again (it finds the new state); it belongs to
 * the engine that made it.
 */
export interface AgentRef {
  readonly agentId: string;
}

/** `AgentRef`'s implementation: the engine's context and the state last found (internal to the engine). */
export class EngineAgentRef implements AgentRef {
  readonly agentId: string;
  /** @internal */
  readonly context: EngineContext;
  /** @internal The agent's state when the ref was last used (checked against its table's generation). */
  state: AgentState | undefined = undefined;

  constructor(context: EngineContext, agentId: string) {
    if (typeof agentId !== "string" || agentId.length === 0) {
      throw new ConfigError("agentId", agentId, "a non-empty string");
    }
    this.context = context;
    this.agentId = agentId;
  }
}

/**
 * The state of the call's agent through its ref: the state the ref found last while that state is in the
 * agent table's current generation (so it is tracked, and an idle turn-over would keep it), else found again.
 */
export function agentByRef(ctx: EngineContext, ref: AgentRef, agentId: string): AgentState {
  const bound = ref as EngineAgentRef;
  const state = bound.state;
  if (
    state !== undefined &&
    bound.context === ctx &&
    state.generation === ctx.agents.generation &&
    state.id === agentId
  ) {
    return state;
  }
  return bindAgent(ctx, bound, agentId);
}

/** The slow path (out of line): checks the ref, looks the agent up (moving it to the current generation). */
function bindAgent(ctx: EngineContext, ref: EngineAgentRef, agentId: string): AgentState {
  if (!(ref instanceof EngineAgentRef) || ref.context !== ctx) {
    throw new ConfigError("call.agentRef", describe(ref), "a ref made by this engine's agentRef()");
  }
  if (ref.agentId !== agentId) {
    throw new ConfigError("call.agentRef", ref.agentId, `the ref of call.agentId "${agentId}"`);
  }
  const state = ctx.agent(agentId);
  state.generation = ctx.agents.generation;
  ref.state = state;
  return state;
}

const describe = (ref: unknown) =>
  ref !== null && typeof ref === "object" && typeof (ref as AgentRef).agentId === "string"
    ? (ref as AgentRef).agentId
    : ref;

/**
 * `bound` when it is the ref of `agentId`, else undefined. For an adapter bound to one agent whose calls may
 * name another (a per-request or per-run agent): such a call goes without a ref and the engine looks its agent
 * up by id — no ref is made per id a caller or a model can name.
 */
export function refForAgent(bound: AgentRef | undefined, agentId: string): AgentRef | undefined {
  return bound !== undefined && bound.agentId === agentId ? bound : undefined;
}
