import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { type EventSink, silentSink } from "../events.js";
import { entropyScore } from "./action-window.js";
import { AgentSignals, type AgentSignalsHandle, SignalShape } from "./agent-signals.js";
import { hashString, requireAgentId, requireToolName } from "./arguments.js";
import { assessmentReasons, measureSignals } from "./assessment.js";
import {
  AssessmentLog,
  type ChainVerification,
  type ExportedAssessmentLog,
  type RogueAssessment,
} from "./assessment-log.js";
import { type CapabilityDecision, type CapabilityProfile, CompiledCapabilityProfile } from "./capability.js";
import { fingerprintHigh, fingerprintLow } from "./fingerprint.js";
import { frequencyScore } from "./frequency.js";
import {
  type ResolvedRogueDetectorOptions,
  type RogueDetectorOptions,
  resolveRogueDetectorOptions,
} from "./options.js";
import type { RogueActionRecord, RogueAgentSnapshot, RogueDetectorSnapshot } from "./records.js";
import { type RiskLevel, riskAtLeast, riskLevelForScore } from "./risk.js";

export type { AgentSignalsHandle } from "./agent-signals.js";
export type { RogueActionRecord, RogueAgentSnapshot, RogueDetectorSnapshot } from "./records.js";

const LOOP_REFUSAL = "refused:LOOP_DETECTED";
const CAPABILITY_REFUSAL = "refused:TOOL_NOT_ALLOWED";

/**
 * Rogue-agent detection (OWASP ASI-10). Four signals per agent, each normalised to [0, 1]:
 * tool-call frequency bursts (aligned windows, idle windows count as 0, only the excess over the z threshold
 * scores), action entropy over a sliding window (too low = repetition, too high = chaos), capability
 * violations (tools outside the agent's profile) and tool-call loops (the same tool with the same arguments
 * `loopRepeats` times within `loopWindowMs`). The composite is Σ weight × score, mapped to LOW / MEDIUM /
 * HIGH / CRITICAL by `riskThresholds` (see `DEFAULT_SIGNAL_WEIGHTS` for what reaches which level).
 *
 * `recordAction` is the per-call hot path: O(1) amortised, no hashing unless the level changes. Every level
 * change and every `assess()` is appended to a bounded, SHA-256 hash-chained log and emitted as
 * `rogue.assessment`.
 */
export class RogueAgentDetector {
  readonly options: ResolvedRogueDetectorOptions;
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #agents = new Map<string, AgentSignals>();
  readonly #profiles = new Map<string, CompiledCapabilityProfile>();
  readonly #log: AssessmentLog;
  readonly #maxEntropyBits: number;
  /** `#entropyOnlyLevel` of a window of one label with enough actions (0 bits): computed as it computes it. */
  readonly #oneLabelLevel: RiskLevel;
  /** Sizes and tables every agent's record shares. */
  readonly #shape: SignalShape;
  // One-entry cache: the engine fingerprints a call in `checkLoop` and `recordAction` with the same arguments
  // object (pre- and post-flight); the second use consumes the cached value.
  #cachedToolName: string | undefined;
  #cachedInput: unknown;
  #cachedCallTaskId: string | undefined;
  /** The cached call's loop key (its fingerprint salted with its task), low and high bits. */
  #cachedLoopLow = 0;
  #cachedLoopHigh = 0;
  /** The high bits of the key `#loopKeyLow` returned last. */
  #loopHigh = 0;
  // The task id seen last and its hash: an agent's consecutive calls usually share a task.
  #cachedTaskId: string | undefined;
  #cachedTaskHash = 0;
  /** What `prefetchKeys` read last: written, never read, so that the compiler keeps the load. */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: a store that keeps a prefetching load alive
  #prefetched = 0;

  constructor(options: RogueDetectorOptions = {}) {
    this.options = resolveRogueDetectorOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#events = options.events ?? silentSink;
    this.#log = new AssessmentLog(this.options.assessmentLogSize);
    this.#maxEntropyBits = Math.log2(this.options.entropyWindowSize);
    const { weights, entropyLowBits, entropyHighBits, riskThresholds } = this.options;
    let composite = 0;
    composite += weights.entropy * entropyScore(0, entropyLowBits, entropyHighBits, this.#maxEntropyBits);
    this.#oneLabelLevel = riskLevelForScore(composite, riskThresholds);
    this.#shape = new SignalShape(this.options);
  }

  /** Agents with signals held (the engine forgets idle agents; see `reset`). */
  get trackedAgents(): number {
    return this.#agents.size;
  }

  /** Identical calls within `loopWindowMs` that make a loop (the engine refuses the call that would reach it). */
  get loopRepeats(): number {
    return this.options.loopRepeats;
  }

  /** Sets (or replaces) the agent's capability profile. It survives `reset()`. */
  registerCapabilityProfile(agentId: string, profile: CapabilityProfile): void {
    requireAgentId(agentId);
    this.#profiles.set(agentId, new CompiledCapabilityProfile(profile));
  }

  /** Removes the agent's profile: every tool is allowed again. Returns whether there was one. */
  removeCapabilityProfile(agentId: string): boolean {
    return this.#profiles.delete(agentId);
  }

  /** Pre-flight: whether the agent may call `toolName`. No profile → `"allowed"`. */
  checkCapability(agentId: string, toolName: string): CapabilityDecision {
    requireToolName(toolName);
    const profile = this.#profiles.get(agentId);
    return profile === undefined ? "allowed" : profile.check(toolName);
  }

  /**
   * Pre-flight: how many identical calls (same tool, same argument fingerprint) the agent already made
   * within `loopWindowMs`, capped at `loopRepeats`. Refuse when `checkLoop(...) + 1 >= options.loopRepeats`.
   * Changes nothing.
   */
  checkLoop(agentId: string, toolName: string, input: unknown, taskId?: string, nowMs?: number): number {
    return this.checkLoopOf(this.#agents.get(agentId), toolName, input, taskId, nowMs ?? this.#clock.now());
  }

  /** @internal `checkLoop` with the agent's signals from `signalsOf` (or undefined: none yet). */
  checkLoopOf(
    handle: AgentSignalsHandle | undefined,
    toolName: string,
    input: unknown,
    taskId: string | undefined,
    nowMs: number,
  ): number {
    requireToolName(toolName);
    const state = handle as AgentSignals | undefined;
    // Read first: for an agent among thousands its record's lines miss, and the fingerprint runs meanwhile.
    const lastAtMs = state === undefined ? nowMs : state.lastAtMs;
    // The same for the line the loop table's lookup reads first (stored: the compiler drops an unused load).
    if (state !== undefined) this.#prefetched = state.prefetchKeys();
    // The key as two small integers: a 53-bit number would be a heap number per call.
    const low = fingerprintLow(toolName, input, this.options.fingerprintBudget, this.#taskSalt(taskId));
    const high = fingerprintHigh();
    if (input !== null && typeof input === "object") {
      this.#cachedToolName = toolName;
      this.#cachedInput = input;
      this.#cachedCallTaskId = taskId;
      this.#cachedLoopLow = low;
      this.#cachedLoopHigh = high;
    }
    if (state === undefined) return 0;
    return state.loops.countKey(low, high, Math.max(nowMs, lastAtMs));
  }

  /**
   * Post-flight: records an action (executed or refused) and returns the agent's current risk level,
   * computed incrementally. When the level differs from the last logged one, an assessment is appended to
   * the chain and `rogue.assessment` is emitted. Invalid input throws `InvalidArgumentError` and changes
   * nothing.
   */
  recordAction(record: RogueActionRecord): RiskLevel {
    if (record === null || typeof record !== "object") {
      throw new InvalidArgumentError("record", record, "an action record { agentId, action, ... }");
    }
    const { agentId, action, toolName, input, timestamp } = record;
    requireAgentId(agentId);
    if (typeof action !== "string" || action.length === 0) {
      throw new InvalidArgumentError("action", action, "a non-empty string");
    }
    if (toolName !== undefined) requireToolName(toolName);
    if (
      timestamp !== undefined &&
      (typeof timestamp !== "number" || !Number.isFinite(timestamp) || timestamp < 0)
    ) {
      throw new InvalidArgumentError("timestamp", timestamp, "a finite number of ms >= 0");
    }

    return this.recordCall(
      agentId,
      action,
      toolName,
      input,
      record.taskId,
      timestamp ?? this.#clock.now(),
      record.failed === true,
    );
  }

  /**
   * @internal `recordAction` for callers that pass valid values (the engine, once per tool call): no
   * record object, no validation beyond the tool name.
   */
  recordCall(
    agentId: string,
    action: string,
    toolName: string | undefined,
    input: unknown,
    taskId: string | undefined,
    timestampMs: number,
    failed: boolean,
  ): RiskLevel {
    return this.recordCallOf(
      this.signalsOf(agentId),
      agentId,
      action,
      toolName,
      input,
      taskId,
      timestampMs,
      failed,
    );
  }

  /** @internal `recordCall` with the agent's signals from `signalsOf` (not retired). */
  recordCallOf(
    handle: AgentSignalsHandle,
    agentId: string,
    action: string,
    toolName: string | undefined,
    input: unknown,
    taskId: string | undefined,
    timestampMs: number,
    failed: boolean,
  ): RiskLevel {
    const state = handle as AgentSignals;
    const atMs = Math.max(timestampMs, state.lastAtMs);
    state.lastAtMs = atMs;
    state.countInWindow(atMs);

    let violation = false;
    if (toolName !== undefined) {
      const profile = this.#profiles.size === 0 ? undefined : this.#profiles.get(agentId);
      const decision = profile === undefined ? "allowed" : profile.check(toolName);
      if (decision !== "allowed") {
        violation = true;
        state.lastViolationTool = toolName;
        state.lastViolationDecision = decision;
      }
      if (!failed) {
        const low = this.#loopKeyLow(toolName, input, taskId);
        const repeats = state.loops.recordKey(low, this.#loopHigh, atMs);
        if (repeats >= this.options.loopRepeats) state.markLoop(atMs, toolName, repeats);
      }
    }
    if (action === LOOP_REFUSAL) {
      // The engine refused the K-th identical call; count it as a loop even if no arguments were passed.
      if (state.loopDetectedAtMs !== atMs) state.markLoop(atMs, toolName ?? action, this.options.loopRepeats);
    } else if (action === CAPABILITY_REFUSAL && !violation) {
      // Refused by a policy other than this detector's profile: still an attempt outside the agent's remit.
      violation = true;
      state.lastViolationTool = toolName ?? action;
      state.lastViolationDecision = "denied";
    }
    state.pushAction(action, violation);
    return this.#levelAt(agentId, state, atMs);
  }

  /**
   * @internal `recordCallOf` for the engine's tool call, the tool name as its action, in one body that does
   * not call out for the usual call — no profile, the key from pre-flight, every signal quiet and the level
   * LOW as logged — but to the record's window, loop table and action ring. Its bytecode is deliberately
   * over V8's 460-byte limit for inlining (the rare cases are written out here, not called): V8 compiles it
   * as a function of its own, whose ~920-byte inlining budget holds those callees, instead of inlining it
   * into the engine's settlement, whose budget cannot hold them too (each becomes a call; paired, 20–45 ns).
   */
  recordToolCallOf(
    handle: AgentSignalsHandle,
    agentId: string,
    toolName: string,
    input: unknown,
    taskId: string | undefined,
    timestampMs: number,
    failed: boolean,
  ): RiskLevel {
    const state = handle as AgentSignals;
    const options = this.options;
    const atMs = Math.max(timestampMs, state.lastAtMs);
    state.lastAtMs = atMs;
    state.countInWindow(atMs);
    let violation = false;
    if (this.#profiles.size !== 0) {
      const profile = this.#profiles.get(agentId);
      const decision = profile === undefined ? "allowed" : profile.check(toolName);
      if (decision !== "allowed") {
        violation = true;
        state.lastViolationTool = toolName;
        state.lastViolationDecision = decision;
      }
    }
    if (!failed) {
      // `#loopKeyLow`, written out: the key pre-flight cached for these arguments, consumed.
      let low: number;
      let high: number;
      if (
        this.#cachedInput !== undefined &&
        input === this.#cachedInput &&
        toolName === this.#cachedToolName &&
        taskId === this.#cachedCallTaskId
      ) {
        this.#cachedInput = undefined;
        this.#cachedToolName = undefined;
        low = this.#cachedLoopLow;
        high = this.#cachedLoopHigh;
      } else {
        low = this.#loopKeyFresh(toolName, input, taskId);
        high = this.#loopHigh;
      }
      const repeats = state.recordKey(low, high, atMs);
      if (repeats >= options.loopRepeats) state.markLoop(atMs, toolName, repeats);
    }
    if (toolName === LOOP_REFUSAL) {
      if (state.loopDetectedAtMs !== atMs) state.markLoop(atMs, toolName, options.loopRepeats);
    } else if (toolName === CAPABILITY_REFUSAL && !violation) {
      violation = true;
      state.lastViolationTool = toolName;
      state.lastViolationDecision = "denied";
    }
    state.pushAction(toolName, violation);
    // #compositeScoreAt's first test (every signal 0: LOW, the thresholds are positive), made once here;
    // `calm`: no signal but the entropy may score (then the composite is its term alone).
    const calm =
      !state.mayBurst && state.violationCount === 0 && atMs - state.loopDetectedAtMs >= options.loopWindowMs;
    const quiet = calm && state.entropyQuiet;
    if (quiet && state.loggedLevel === "LOW") return "LOW";
    const level = quiet
      ? "LOW"
      : calm
        ? this.#entropyOnlyLevel(state)
        : riskLevelForScore(this.#compositeScoreAt(state, atMs, false), options.riskThresholds);
    if (level !== state.loggedLevel) this.#append(agentId, state, atMs, "level-change");
    return level;
  }

  /**
   * The level when only the entropy signal may score (no burst, no violation, no loop within the window):
   * `#compositeScoreAt`'s sum with its one term, in a small function of its own whose callees V8 inlines
   * (in `recordToolCallOf` they were calls: its inlining budget is spent on the usual call's path).
   */
  #entropyOnlyLevel(state: AgentSignals): RiskLevel {
    // An agent repeating one tool (every agent of a fleet calling its own): the level of 0 bits, made once.
    if (state.entropyOneLabel) return this.#oneLabelLevel;
    const options = this.options;
    let composite = 0;
    if (state.windowActions >= options.entropyMinActions) {
      composite +=
        options.weights.entropy *
        entropyScore(
          state.entropyBits,
          options.entropyLowBits,
          options.entropyHighBits,
          this.#maxEntropyBits,
        );
    }
    return riskLevelForScore(composite, options.riskThresholds);
  }

  /** The level after an action at `atMs` (the frequency window is there), logged when it changed. */
  #levelAt(agentId: string, state: AgentSignals, atMs: number): RiskLevel {
    const level = riskLevelForScore(this.#compositeScoreAt(state, atMs), this.options.riskThresholds);
    if (level !== state.loggedLevel) this.#append(agentId, state, atMs, "level-change");
    return level;
  }

  /** The agent's risk level now (cheap; does not write the log). Unknown agents are LOW. */
  riskLevel(agentId: string): RiskLevel {
    const state = this.#agents.get(agentId);
    if (state === undefined) return "LOW";
    const nowMs = Math.max(this.#clock.now(), state.lastAtMs);
    state.advanceWindowTo(nowMs);
    return riskLevelForScore(this.#compositeScoreAt(state, nowMs), this.options.riskThresholds);
  }

  /** Full assessment now, always appended to the hash-chained log and emitted. */
  assess(agentId: string): RogueAssessment {
    requireAgentId(agentId);
    const state = this.#agents.get(agentId);
    if (state === undefined) {
      // Assessing an agent that never acted must not allocate state for it.
      const empty = new AgentSignals(this.#shape);
      const assessment = this.#append(agentId, empty, this.#clock.now(), "assess");
      empty.release();
      return assessment;
    }
    return this.#append(agentId, state, Math.max(this.#clock.now(), state.lastAtMs), "assess");
  }

  /**
   * Clears the agent's signals (frequency history, action window, loop table, detected loop) and its logged
   * level, e.g. after it is released from quarantine, so old evidence does not immediately re-quarantine it.
   * The capability profile and the assessment log are kept. The agent's blocks go back to the detector's
   * slabs for the next agent (the engine resets an agent it evicts, so the slabs follow the agents tracked).
   */
  reset(agentId: string): void {
    const state = this.#agents.get(agentId);
    if (state === undefined) return;
    this.#agents.delete(agentId);
    // Retires it: a holder sees `retired` and fetches a new one.
    state.release();
  }

  /**
   * @internal The agent's signals (created if needed), for a caller that keeps them with its own per-agent
   * state and passes them back (`checkLoopOf`, `recordCallOf`): no lookup by id per call. Fetch again once
   * `retired` (the agent was reset).
   */
  signalsOf(agentId: string): AgentSignalsHandle {
    let state = this.#agents.get(agentId);
    if (state === undefined) {
      state = new AgentSignals(this.#shape);
      this.#agents.set(agentId, state);
    }
    return state;
  }

  /** Retained assessments, oldest first (optionally for one agent). Entries are frozen. */
  assessments(agentId?: string): RogueAssessment[] {
    const entries = this.#log.entries();
    return agentId === undefined ? entries : entries.filter((entry) => entry.agentId === agentId);
  }

  /** The retained log and its anchor, for storage; check it later with `verifyAssessmentLog`. */
  exportAssessmentLog(): ExportedAssessmentLog {
    return this.#log.export();
  }

  /** Verifies the retained log from its anchor (the hash of the last evicted entry, or genesis). */
  verifyAssessmentChain(): ChainVerification {
    return this.#log.verify();
  }

  snapshot(): RogueDetectorSnapshot {
    const at = this.#clock.now();
    const agents: Record<string, RogueAgentSnapshot> = {};
    for (const [agentId, state] of this.#agents) {
      const nowMs = Math.max(at, state.lastAtMs);
      const { scores, compositeScore } = measureSignals(this.options, this.#maxEntropyBits, state, nowMs);
      agents[agentId] = {
        riskLevel: riskLevelForScore(compositeScore, this.options.riskThresholds),
        loggedRiskLevel: state.loggedLevel,
        compositeScore,
        scores,
        lastActionAt: state.lastAtMs,
        sizes: {
          frequencyWindows: state.completedWindows,
          windowActions: state.windowActions,
          distinctActions: state.distinctLabels,
          loopFingerprints: state.loops.size,
        },
      };
    }
    const profiles: RogueDetectorSnapshot["profiles"] = {};
    for (const [agentId, profile] of this.#profiles) {
      profiles[agentId] = {
        allowedTools: profile.allowedTools === undefined ? null : [...profile.allowedTools],
        deniedTools: [...profile.deniedTools],
      };
    }
    return {
      at,
      options: this.options,
      agents,
      profiles,
      assessmentLog: {
        length: this.#log.length,
        totalAppended: this.#log.totalAppended,
        anchorHash: this.#log.anchorHash,
        headHash: this.#log.headHash,
      },
    };
  }

  /**
   * The salt of the call's task (0: none), mixed into its fingerprint after the tool name: the same call in
   * another task is another key.
   */
  #taskSalt(taskId: string | undefined): number {
    if (taskId === undefined) return 0;
    if (taskId !== this.#cachedTaskId) {
      this.#cachedTaskId = taskId;
      this.#cachedTaskHash = hashString(taskId);
    }
    return this.#cachedTaskHash;
  }

  /**
   * The call's loop key, from the one-entry cache when pre-flight just computed it for these arguments:
   * returns its low bits, its high bits in `#loopHigh`.
   */
  #loopKeyLow(toolName: string, input: unknown, taskId: string | undefined): number {
    if (
      this.#cachedInput !== undefined &&
      input === this.#cachedInput &&
      toolName === this.#cachedToolName &&
      taskId === this.#cachedCallTaskId
    ) {
      this.#cachedInput = undefined;
      this.#cachedToolName = undefined;
      this.#loopHigh = this.#cachedLoopHigh;
      return this.#cachedLoopLow;
    }
    return this.#loopKeyFresh(toolName, input, taskId);
  }

  /** `#loopKeyLow` without the cache (out of line: the engine's call finds its key cached). */
  #loopKeyFresh(toolName: string, input: unknown, taskId: string | undefined): number {
    const low = fingerprintLow(toolName, input, this.options.fingerprintBudget, this.#taskSalt(taskId));
    this.#loopHigh = fingerprintHigh();
    return low;
  }

  /** The hot-path composite (`measureSignals`' arithmetic, no objects built), the frequency window at `nowMs`. */
  #compositeScoreAt(state: AgentSignals, nowMs: number, test = true): number {
    const options = this.options;
    // The usual call: no signal can score (each test decided without a division; see mayBurst, entropyQuiet).
    // `test` false: the caller made this test and found a signal that may score.
    if (
      test &&
      !state.mayBurst &&
      state.violationCount === 0 &&
      state.entropyQuiet &&
      nowMs - state.loopDetectedAtMs >= options.loopWindowMs
    ) {
      return 0;
    }
    const weights = options.weights;
    // Below the count that may burst (set when a window ends) the frequency score is 0: no z-score.
    let composite = state.mayBurst
      ? weights.frequency *
        frequencyScore(state.frequencyZScore(options.frequencyMinWindows), options.frequencyZThreshold)
      : 0;
    if (state.windowActions >= options.entropyMinActions) {
      composite +=
        weights.entropy *
        entropyScore(
          state.entropyBits,
          options.entropyLowBits,
          options.entropyHighBits,
          this.#maxEntropyBits,
        );
    }
    if (state.violationCount > 0) composite += weights.capability;
    if (nowMs - state.loopDetectedAtMs < options.loopWindowMs) composite += weights.loop;
    return composite;
  }

  #append(
    agentId: string,
    state: AgentSignals,
    nowMs: number,
    trigger: RogueAssessment["trigger"],
  ): RogueAssessment {
    const { scores, compositeScore, details } = measureSignals(
      this.options,
      this.#maxEntropyBits,
      state,
      nowMs,
    );
    const riskLevel = riskLevelForScore(compositeScore, this.options.riskThresholds);
    const entry = this.#log.append({
      at: nowMs,
      agentId,
      trigger,
      riskLevel,
      previousRiskLevel: state.loggedLevel,
      compositeScore,
      scores,
      details,
      quarantineRecommended: riskAtLeast(riskLevel, this.options.quarantineRiskLevel),
      reasons: assessmentReasons(this.options, scores, details),
    });
    state.loggedLevel = riskLevel;
    if (this.#events.has("rogue.assessment")) {
      this.#events.emit("rogue.assessment", {
        at: nowMs,
        agentId,
        riskLevel,
        compositeScore,
        quarantineRecommended: entry.quarantineRecommended,
        reasons: [...entry.reasons],
      });
    }
    return entry;
  }
}
