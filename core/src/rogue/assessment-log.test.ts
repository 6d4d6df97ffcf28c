/// <reference types="node" />
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AssessmentLog,
  computeAssessmentHash,
  GENESIS_HASH,
  type RogueAssessment,
  type UnsealedAssessment,
  verifyAssessmentLog,
} from "./assessment-log.js";
import { canonicalJson } from "./canonical-json.js";
import { RogueAgentDetector } from "./detector.js";
import type { RiskLevel } from "./risk.js";
import { sha256Hex } from "./sha256.js";
import { previousCanonicalJson } from "./test-utils/reference.js";

function body(agentId: string, riskLevel: RiskLevel, index: number): UnsealedAssessment {
  return {
    at: 1_000 * index,
    agentId,
    trigger: index % 2 === 0 ? "level-change" : "assess",
    riskLevel,
    previousRiskLevel: "LOW",
    compositeScore: 2 + index / 10,
    scores: { frequency: 0.25, entropy: 0, capability: 1, loop: 0 },
    details: {
      frequencyZScore: 3.1,
      currentWindowActions: 7,
      meanWindowActions: 2.5,
      completedWindows: 12,
      entropyBits: null,
      windowActions: 8,
      capabilityViolations: 1,
      lastViolation: { toolName: "shell", decision: "denied" },
      loopToolName: null,
      loopRepeats: 0,
    },
    quarantineRecommended: true,
    reasons: [`reason ${index}`, "second reason"],
  };
}

function filledLog(count: number, capacity = 100): AssessmentLog {
  const log = new AssessmentLog(capacity);
  for (let i = 0; i < count; i++) log.append(body(`agent-${i % 3}`, i % 2 === 0 ? "HIGH" : "LOW", i));
  return log;
}

/** Every leaf path of a JSON value. */
function leafPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, child]) =>
      leafPaths(child, [...prefix, Array.isArray(value) ? Number(key) : key]),
    );
  }
  return [prefix];
}

function tamper(entry: RogueAssessment, path: Array<string | number>): void {
  let parent = entry as unknown as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = path[path.length - 1] as string | number;
  const value = parent[key];
  if (typeof value === "string")
    parent[key] = key === "riskLevel" ? (value === "LOW" ? "CRITICAL" : "LOW") : `${value}x`;
  else if (typeof value === "number") parent[key] = value + 1;
  else if (typeof value === "boolean") parent[key] = !value;
  else parent[key] = 0;
}

describe("canonicalJson", () => {
  it("sorts keys recursively, drops undefined and rejects non-finite numbers", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(TypeError);
  });
});

/** The previous hash: a copy without `hash`, its canonical JSON, SHA-256 by node:crypto. */
function previousHash(entry: Omit<RogueAssessment, "hash"> & { hash?: string }): string {
  const { hash: _ignored, ...content } = entry;
  return createHash("sha256")
    .update(`${content.prevHash}:${previousCanonicalJson(content)}`)
    .digest("hex");
}

/** The previous `append`: three object spreads. */
function previousEntries(bodies: UnsealedAssessment[]): RogueAssessment[] {
  let prevHash = GENESIS_HASH;
  return bodies.map((body, sequence) => {
    const unsealed = { ...body, sequence, prevHash };
    const entry = { ...unsealed, hash: previousHash(unsealed) };
    prevHash = entry.hash;
    return entry;
  });
}

/** Bodies as the detector writes them, varied: violations or not, fractions, nulls, non-ASCII, escapes. */
function variedBodies(count: number): UnsealedAssessment[] {
  const levels: RiskLevel[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
  return Array.from({ length: count }, (_, i) => {
    const violation = i % 3 === 0;
    const base = body(i % 5 === 0 ? `agent-é-${i}` : `agent-${i % 7}`, levels[i % 4] as RiskLevel, i);
    return {
      ...base,
      at: 1_765_000_000_000 + i * 37,
      previousRiskLevel: levels[(i + 1) % 4] as RiskLevel,
      compositeScore: i % 4 === 0 ? 0 : 1 / (i + 3) + 0.75,
      scores: {
        frequency: i % 2 === 0 ? 0 : 0.1 * i,
        entropy: (i % 10) / 9,
        capability: violation ? 1 : 0,
        loop: 0,
      },
      details: {
        ...base.details,
        frequencyZScore: i % 2 === 0 ? null : -1.5 + i / 7,
        meanWindowActions: i / 3,
        entropyBits: i % 6 === 0 ? null : Math.log2(1 + i),
        lastViolation: violation ? { toolName: `tool "${i}" \\ ✓`, decision: "not-in-allow-list" } : null,
        loopToolName: i % 4 === 1 ? "search\u2028" : null,
        loopRepeats: i % 4 === 1 ? 5 : 0,
      },
      quarantineRecommended: i % 4 >= 2,
      reasons:
        i % 8 === 0 ? [] : [`repetitive actions: entropy ${(i / 10).toFixed(3)} bits`, 'loop: "x"\n🚀'],
    };
  });
}

describe("AssessmentLog against the previous algorithm", () => {
  it("builds the same entries: fields, key order, hashes, JSON", () => {
    const bodies = variedBodies(60);
    const log = new AssessmentLog(100);
    const appended = bodies.map((b) => log.append(b));
    const expected = previousEntries(bodies);
    for (let i = 0; i < bodies.length; i++) {
      const entry = appended[i] as RogueAssessment;
      const previous = expected[i] as RogueAssessment;
      expect(Object.keys(entry), `entry ${i}`).toEqual(Object.keys(previous));
      expect(JSON.stringify(entry), `entry ${i}`).toBe(JSON.stringify(previous));
      expect(entry.hash).toBe(previous.hash);
      expect(computeAssessmentHash(entry)).toBe(previous.hash);
      expect(computeAssessmentHash(previous)).toBe(previous.hash);
      // The content is what the chain covers: the entry without `hash`.
      const { hash: _hash, ...content } = entry;
      expect(canonicalJson(content)).toBe(previousCanonicalJson(content));
    }
    expect(Object.keys(appended[0] as RogueAssessment)).toEqual([
      ...Object.keys(bodies[0] as UnsealedAssessment),
      "sequence",
      "prevHash",
      "hash",
    ]);
    expect(log.verify()).toEqual({ ok: true });
    expect(verifyAssessmentLog(expected)).toEqual({ ok: true });
  });

  it("seals the assessment's fields in one order whatever the body's: the hash is the previous algorithm's", () => {
    const [first] = variedBodies(1) as [UnsealedAssessment];
    const { at, agentId, ...rest } = first;
    const reordered = { ...rest, agentId, at } as UnsealedAssessment;
    const entry = new AssessmentLog(10).append(reordered);
    const [previous] = previousEntries([reordered]) as [RogueAssessment];
    // The previous algorithm kept the body's order; the hash never depended on it (canonical JSON).
    expect(Object.keys(previous).slice(0, 2)).not.toEqual(["at", "agentId"]);
    expect(Object.keys(entry)).toEqual([...Object.keys(first), "sequence", "prevHash", "hash"]);
    expect(entry.hash).toBe(previous.hash);
    expect(canonicalJson(entry)).toBe(previousCanonicalJson(previous));
  });

  it("hashes the detector's entries as before, and freezes all of them", () => {
    let now = 1_000_000;
    const detector = new RogueAgentDetector({ clock: { now: () => now }, assessmentLogSize: 40 });
    detector.registerCapabilityProfile("agent-2", { allowedTools: ["search"] });
    for (let i = 0; i < 600; i++) {
      now += 97;
      const agentId = `agent-${i % 4}`;
      const tool = i % 4 === 3 ? `tool-${i % 17}` : i % 11 === 0 ? "shell" : "search";
      detector.recordAction({ agentId, action: tool, toolName: tool, input: { q: i % 4 === 1 ? 1 : i } });
      if (i % 10 === 0) detector.assess(agentId);
    }
    const { anchorHash, entries } = detector.exportAssessmentLog();
    expect(entries.length).toBe(40);
    expect(new Set(entries.map((e) => e.riskLevel)).size).toBeGreaterThan(1);
    expect(entries.some((e) => e.details.lastViolation !== null)).toBe(true);
    let prevHash = anchorHash;
    for (const entry of entries) {
      expect(entry.prevHash).toBe(prevHash);
      expect(entry.hash).toBe(previousHash(entry));
      expect(Object.keys(entry).slice(-3)).toEqual(["sequence", "prevHash", "hash"]);
      expect(Object.isFrozen(entry) && Object.isFrozen(entry.details) && Object.isFrozen(entry.reasons)).toBe(
        true,
      );
      if (entry.details.lastViolation !== null)
        expect(Object.isFrozen(entry.details.lastViolation)).toBe(true);
      prevHash = entry.hash;
    }
    expect(verifyAssessmentLog(entries, anchorHash)).toEqual({ ok: true });
  });
});

describe("AssessmentLog", () => {
  it("chains entries from the genesis hash over the canonical JSON of all fields", () => {
    const log = filledLog(3);
    const [first, second] = log.entries() as [RogueAssessment, RogueAssessment];
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.sequence).toBe(0);
    expect(second.prevHash).toBe(first.hash);
    const { hash, ...content } = first;
    expect(hash).toBe(sha256Hex(`${GENESIS_HASH}:${canonicalJson(content)}`));
    expect(computeAssessmentHash(first)).toBe(first.hash);
    expect(log.verify()).toEqual({ ok: true });
    expect(log.headHash).toBe((log.entries()[2] as RogueAssessment).hash);
  });

  it("returns frozen entries", () => {
    const entry = filledLog(1).entries()[0] as RogueAssessment;
    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(entry.scores)).toBe(true);
    expect(Object.isFrozen(entry.reasons)).toBe(true);
    expect(() => {
      (entry as { riskLevel: RiskLevel }).riskLevel = "LOW";
    }).toThrow(TypeError);
  });

  it("detects tampering with any field of any entry at that entry's index", () => {
    const exported = filledLog(4).export();
    expect(verifyAssessmentLog(exported.entries, exported.anchorHash)).toEqual({ ok: true });
    let cases = 0;
    for (let index = 0; index < exported.entries.length; index++) {
      for (const path of leafPaths(exported.entries[index])) {
        const copy = structuredClone(exported.entries);
        tamper(copy[index] as RogueAssessment, path);
        expect(verifyAssessmentLog(copy, exported.anchorHash), `${index}:${path.join(".")}`).toEqual({
          ok: false,
          brokenAt: index,
        });
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(4 * 20);
  });

  it("detects an added field, a removed entry and reordered entries", () => {
    const { entries } = filledLog(4).export();
    const added = structuredClone(entries);
    (added[2] as unknown as Record<string, unknown>).note = "injected";
    expect(verifyAssessmentLog(added)).toEqual({ ok: false, brokenAt: 2 });

    const removed = entries.filter((_, index) => index !== 1);
    expect(verifyAssessmentLog(removed)).toEqual({ ok: false, brokenAt: 1 });

    const swapped = [entries[0], entries[2], entries[1], entries[3]] as RogueAssessment[];
    expect(verifyAssessmentLog(swapped)).toEqual({ ok: false, brokenAt: 1 });

    // A forged entry with a recomputed hash still breaks the next link.
    const forged = structuredClone(entries);
    const target = forged[1] as RogueAssessment;
    target.riskLevel = "CRITICAL";
    target.hash = computeAssessmentHash(target);
    expect(verifyAssessmentLog(forged)).toEqual({ ok: false, brokenAt: 2 });
  });

  it("is bounded and stays verifiable from the first retained entry", () => {
    const log = filledLog(25, 10);
    const entries = log.entries();
    expect(log.length).toBe(10);
    expect(log.totalAppended).toBe(25);
    expect((entries[0] as RogueAssessment).sequence).toBe(15);
    expect(log.anchorHash).toBe((entries[0] as RogueAssessment).prevHash);
    expect(log.anchorHash).not.toBe(GENESIS_HASH);
    expect(log.verify()).toEqual({ ok: true });
    // Without the anchor the retained slice does not verify from genesis.
    expect(verifyAssessmentLog(entries)).toEqual({ ok: false, brokenAt: 0 });
  });
});
