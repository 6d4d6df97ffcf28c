import { ChaosInjectedError } from "../errors.js";
import type { AdversarialReport, ChaosCall, FaultApplication } from "./experiment-types.js";
import { type Fault, isAdversarialFault } from "./faults.js";
import type { Rng } from "./rng.js";

/** What a fault chosen for `call` does to it (latency jitter drawn from the experiment's seeded `rng`). */
export function applyFault(fault: Fault, call: ChaosCall, experiment: string, rng: Rng): FaultApplication {
  switch (fault.type) {
    case "latency": {
      let delayMs = fault.delayMs;
      if (fault.jitterMs > 0) delayMs = Math.max(1, Math.round(delayMs + (2 * rng() - 1) * fault.jitterMs));
      return { type: "latency", faultId: fault.id, delayMs };
    }
    case "error":
      return {
        type: "error",
        faultId: fault.id,
        error: new ChaosInjectedError({
          agentId: call.agentId,
          faultId: fault.id,
          experiment,
          message: fault.message,
          status: fault.status,
        }),
      };
    case "timeout":
      return { type: "timeout", faultId: fault.id, delayMs: fault.delayMs };
    case "prompt-injection":
    case "privilege-escalation":
      return {
        type: "payload",
        faultId: fault.id,
        technique: fault.type === "prompt-injection" ? fault.technique : "privilege-escalation",
        payload: fault.payload,
        where: fault.where ?? (call.kind === "tool" ? "result" : "input"),
      };
    case "tool-abuse":
      return { type: "tool-abuse", faultId: fault.id, toolName: fault.toolName };
  }
}

/** Per-fault counts of a run, indexed like the experiment's faults. */
export interface FaultCounts {
  readonly injected: readonly number[];
  readonly blocked: readonly number[];
  readonly detected: readonly number[];
  readonly passed: readonly number[];
}

/** The report's per-fault injection counts, their total, and one entry per adversarial fault. */
export function faultReport(
  faults: readonly Fault[],
  counts: FaultCounts,
): { injected: Record<string, number>; injectedTotal: number; adversarial: AdversarialReport[] } {
  const injected: Record<string, number> = {};
  let injectedTotal = 0;
  const adversarial: AdversarialReport[] = [];
  faults.forEach((fault, i) => {
    const count = counts.injected[i]!;
    injected[fault.id] = count;
    injectedTotal += count;
    if (!isAdversarialFault(fault)) return;
    const blocked = counts.blocked[i]!;
    const detected = counts.detected[i]!;
    const passed = counts.passed[i]!;
    adversarial.push({
      faultId: fault.id,
      type: fault.type,
      technique:
        fault.type === "prompt-injection"
          ? fault.technique
          : fault.type === "privilege-escalation"
            ? "privilege-escalation"
            : undefined,
      injected: count,
      blocked,
      detected,
      passed,
      outcome: passed > 0 ? "passed" : detected > 0 ? "detected" : blocked > 0 ? "blocked" : "pending",
    });
  });
  return { injected, injectedTotal, adversarial };
}
