import { ConfigError } from "../errors.js";
import type { AgentState, AgentsToken, EngineContext } from "./context.js";

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

/** `AgentRef`'s implementation: its engine's agent table and the state last found (internal to the engine). */
export class EngineAgentRef implements AgentRef {
  readonly agentId: string;
  /**
   * @internal The engine's agent table as it was when `state` was found (its generation's token): while it
   * is the table's current token, the table has not turned over since, so it still tracks `state` (the
   * table forgets an entry only when it turns over). One field says that and which engine the ref is of.
   */
  token: AgentsToken;
  /** @internal The agent's state when the ref was last used (valid while `token` is current). */
  state: AgentState | undefined = undefined;

  constructor(context: EngineContext, agentId: string) {
    if (typeof agentId !== "string" || agentId.length === 0) {
      throw new ConfigError("agentId", agentId, "a non-empty string");
    }
    this.token = context.agentsToken;
    this.agentId = agentId;
  }

  /** @internal The engine that made the ref. */
  get context(): EngineContext {
    return this.token.context;
  }
}

/**
 * The state of the call's agent through its ref: the state the ref found last while the agent table is in
 * the generation it was found in (so it is tracked, and an idle turn-over would keep it), else found again.
 * The token compared also tells a ref of another engine (whose tokens are its own).
 * Reads the ref alone: the id is checked against the ref's (the state's, since the ref found it by that id)
 * with `Object.is`, which V8 compiles to a pointer comparison first — `===` on strings first reads both
 * strings' types and lengths, and the id string is a cache line of its own for an agent among thousands.
 */
export function agentByRef(ctx: EngineContext, ref: AgentRef, agentId: string): AgentState {
  const bound = ref as EngineAgentRef;
  const state = bound.state;
  if (state !== undefined && bound.token === ctx.agentsToken && Object.is(bound.agentId, agentId)) {
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
  // The token before the lookup: a new agent may fill the table and turn it over (its state then in the
  // previous generation), and the next call through the ref then looks it up again (moving it on).
  const token = ctx.agentsToken;
  ref.state = ctx.agent(agentId);
  ref.token = token;
  return ref.state;
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
