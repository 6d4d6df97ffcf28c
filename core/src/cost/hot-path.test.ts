import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { CostGuard } from "./cost-guard.js";
import { OverrunAlert } from "./overrun-alert.js";

// What the model call's hot path keeps exact while it does less (issue 18): an overrun's message is
// written when it is read.

const START = Date.UTC(2026, 11, 6, 12);

describe("an overrun alert's message", () => {
  it("is written when first read, serializes with it; commit and status views hand out plain data", () => {
    const clock = new ManualClock(START);
    const guard = new CostGuard({ clock, anomalyDetection: false });
    const held = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.1 });
    // What commit hands the caller is plain data (a spread copy keeps the message).
    const [alert] = held.commit(0.35);
    expect(Object.getPrototypeOf(alert)).toBe(Object.prototype);
    const message = 'Agent "a" spent $0.35 on a reservation of $0.10';
    expect({ ...alert }).toMatchObject({ message });
    // The alert object itself writes its message when first read.
    const lazy = new OverrunAlert(START, "c", undefined, 0.1, 0.3);
    expect(Object.keys(lazy)).not.toContain("message");
    expect(lazy.message).toBe('Agent "c" spent $0.30 on a reservation of $0.10');
    expect(JSON.parse(JSON.stringify(alert))).toEqual({
      type: "overrun",
      at: START,
      agentId: "a",
      taskId: "t",
      scope: "call",
      reservedUsd: 0.1,
      actualUsd: 0.35,
      severity: "warning",
      action: "ALERT",
      message,
    });
    // The engine's commit: nothing formatted until a status reads it, then a plain object with its message.
    const unread = guard.reserve({ agentId: "b", estimatedCostUsd: 0.1 });
    guard.commitUnread(unread, 0.2, 10, clock.now());
    const recent = guard.snapshot().recentAlerts;
    expect(recent.map((entry) => Object.getPrototypeOf(entry))).toEqual([Object.prototype, Object.prototype]);
    expect(recent[1]).toEqual({ ...recent[1], message: 'Agent "b" spent $0.20 on a reservation of $0.10' });
    expect({ ...recent[0] }).toMatchObject({ message });
  });
});
