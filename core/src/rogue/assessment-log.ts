import { canonicalJsonWithout } from "./canonical-json.js";
import type { RiskLevel } from "./risk.js";
import { sha256Hex } from "./sha256.js";

/** The four signals, each normalised to [0, 1] before weighting. */
export interface RogueSignalScores {
  /** Tool-call burst: excess of the current window's z-score over the threshold. */
  frequency: number;
  /** Action entropy too low (repetition) or too high (chaos). */
  entropy: number;
  /** 1 while a capability violation is among the agent's recent actions (the entropy window). */
  capability: number;
  /** 1 for `loopWindowMs` after the same call (tool + arguments) repeated `loopRepeats` times. */
  loop: number;
}

/** The raw measurements behind the scores (so an assessment can be audited without the detector). */
export interface RogueAssessmentDetails {
  /** z-score of the current frequency window; `null` until `frequencyMinWindows` windows completed. */
  frequencyZScore: number | null;
  /** Actions in the current (aligned) frequency window. */
  currentWindowActions: number;
  /** Mean actions per completed window. */
  meanWindowActions: number;
  completedWindows: number;
  /** Entropy of the sliding action window in bits; `null` below `entropyMinActions` actions. */
  entropyBits: number | null;
  /** Actions in the sliding window. */
  windowActions: number;
  /** Capability violations among them. */
  capabilityViolations: number;
  /** The most recent violation, if any is still in the window. */
  lastViolation: { toolName: string; decision: "denied" | "not-in-allow-list" } | null;
  /** The looping tool while the loop signal is active, else `null`. */
  loopToolName: string | null;
  /** Identical calls seen within the loop window when the loop was detected (0 if none active). */
  loopRepeats: number;
}

/** One entry of the hash-chained assessment log. Every field is covered by `hash`. */
export interface RogueAssessment {
  /** Position in the whole log since the detector was created (0-based; eviction does not renumber). */
  sequence: number;
  at: number;
  agentId: string;
  /** `"assess"` for an explicit `assess()`, `"level-change"` when `recordAction` moved the level. */
  trigger: "assess" | "level-change";
  riskLevel: RiskLevel;
  /** The agent's level before this entry. */
  previousRiskLevel: RiskLevel;
  /** Σ weight × score. */
  compositeScore: number;
  scores: RogueSignalScores;
  details: RogueAssessmentDetails;
  quarantineRecommended: boolean;
  reasons: string[];
  /** Hash of the previous entry (`GENESIS_HASH` for the first entry ever). */
  prevHash: string;
  /** SHA-256 (hex) of `prevHash + ":" + canonicalJson(entry without hash)`. */
  hash: string;
}

/** The assessment body before it is sealed into the chain. */
export type UnsealedAssessment = Omit<RogueAssessment, "sequence" | "prevHash" | "hash">;

export interface ChainVerification {
  ok: boolean;
  /** Index (in the verified list) of the first entry whose link or hash does not match. */
  brokenAt?: number;
}

/** A log exported for storage or audit: verify it later with `verifyAssessmentLog`. */
export interface ExportedAssessmentLog {
  /** `prevHash` the first retained entry must carry (the hash of the last evicted entry, or genesis). */
  anchorHash: string;
  entries: RogueAssessment[];
}

export const GENESIS_HASH = "0".repeat(64);

/** Recomputes an entry's hash from its content (the `hash` field itself excluded). */
export function computeAssessmentHash(entry: Omit<RogueAssessment, "hash"> & { hash?: string }): string {
  // canonicalJson of the entry without `hash`, with no copy of the entry made to leave it out.
  return sha256Hex(`${entry.prevHash}:${canonicalJsonWithout(entry, "hash")}`);
}

/**
 * Checks that each entry links to the previous one (starting from `anchorHash`) and that its hash matches
 * its content. Any edited, inserted, removed or reordered entry breaks the chain at its index.
 */
export function verifyAssessmentLog(
  entries: readonly RogueAssessment[],
  anchorHash: string = GENESIS_HASH,
): ChainVerification {
  let expectedPrevHash = anchorHash;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as RogueAssessment;
    let intact: boolean;
    try {
      intact = entry.prevHash === expectedPrevHash && computeAssessmentHash(entry) === entry.hash;
    } catch {
      intact = false; // content that cannot be serialized canonically (e.g. a tampered NaN)
    }
    if (!intact) return { ok: false, brokenAt: index };
    expectedPrevHash = entry.hash;
  }
  return { ok: true };
}

/**
 * The bounded, hash-chained log. When full, the oldest entry is dropped and its hash becomes the anchor, so
 * the retained entries stay verifiable on their own.
 */
export class AssessmentLog {
  readonly #ring: Array<RogueAssessment | undefined>;
  #head = 0;
  #size = 0;
  #nextSequence = 0;
  #anchorHash = GENESIS_HASH;
  #headHash = GENESIS_HASH;

  constructor(capacity: number) {
    this.#ring = new Array<RogueAssessment | undefined>(capacity).fill(undefined);
  }

  /** Seals `body` into the chain and returns the frozen entry. */
  append(body: UnsealedAssessment): RogueAssessment {
    const entry = sealedCopy(body, this.#nextSequence, this.#headHash);
    entry.hash = computeAssessmentHash(entry);
    freezeSealedCopy(entry);

    const capacity = this.#ring.length;
    const slot = (this.#head + this.#size) % capacity;
    if (this.#size === capacity) {
      this.#anchorHash = (this.#ring[this.#head] as RogueAssessment).hash;
      this.#head = (this.#head + 1) % capacity;
    } else {
      this.#size++;
    }
    this.#ring[slot] = entry;
    this.#nextSequence++;
    this.#headHash = entry.hash;
    return entry;
  }

  /** Retained entries, oldest first. */
  entries(): RogueAssessment[] {
    const out: RogueAssessment[] = [];
    for (let i = 0; i < this.#size; i++) {
      out.push(this.#ring[(this.#head + i) % this.#ring.length] as RogueAssessment);
    }
    return out;
  }

  get length(): number {
    return this.#size;
  }

  /** Entries appended since creation (retained or not). */
  get totalAppended(): number {
    return this.#nextSequence;
  }

  get anchorHash(): string {
    return this.#anchorHash;
  }

  /** Hash of the newest entry (genesis when empty). */
  get headHash(): string {
    return this.#headHash;
  }

  export(): ExportedAssessmentLog {
    return { anchorHash: this.#anchorHash, entries: this.entries() };
  }

  verify(): ChainVerification {
    return verifyAssessmentLog(this.entries(), this.#anchorHash);
  }
}

// The entry is the body's fields, then `sequence`, `prevHash` and `hash` (a placeholder until the hash of the
// rest is known), copied by an object literal: V8 copies a spread that more keys follow property by property
// through a generic builtin (the two spreads and the copy without `hash` of the previous version were ~2 µs
// each in a profile of assess(), node 20). The field order is the detector's: the hash does not depend on it
// (canonical JSON sorts keys), an exported log's JSON does.

function sealedCopy(body: UnsealedAssessment, sequence: number, prevHash: string): RogueAssessment {
  return {
    at: body.at,
    agentId: body.agentId,
    trigger: body.trigger,
    riskLevel: body.riskLevel,
    previousRiskLevel: body.previousRiskLevel,
    compositeScore: body.compositeScore,
    scores: body.scores,
    details: body.details,
    quarantineRecommended: body.quarantineRecommended,
    reasons: body.reasons,
    sequence,
    prevHash,
    hash: "",
  };
}

/** `deepFreeze` of a `sealedCopy`: its object fields by name (the others are numbers, strings, booleans). */
function freezeSealedCopy(entry: RogueAssessment): void {
  Object.freeze(entry);
  freezeChild(entry.scores);
  freezeChild(entry.details);
  freezeChild(entry.reasons);
}

function freezeChild(value: unknown): void {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) deepFreeze(value);
}

/** Freezes `value` and every object reachable through own enumerable properties that is not frozen yet. */
function deepFreeze(value: object): void {
  Object.freeze(value);
  const children = Object.values(value);
  for (let i = 0; i < children.length; i++) {
    freezeChild(children[i]);
  }
}
