import { describe, expect, it, vi } from "vitest";
import type { AgentRow } from "./fleet.js";
import { formatDuration, Renderer } from "./render.js";
import type { Scene } from "./scene.js";

const scene: Scene = {
  name: "loop",
  title: "Runaway loop",
  failure: "an agent repeats the same tool call",
  run: async () => ({ contained: true, headline: "stopped", lines: ["detail"], facts: {} }),
};

const row: AgentRow = {
  agent: "support-bot",
  framework: "LangChain.js",
  calls: 5,
  blocked: 2,
  failed: 0,
  spentUsd: 0.0118,
  budgetUsd: 5,
  breaker: "CLOSED",
  breakerTrips: 0,
  slo: "HEALTHY",
  risk: "LOW",
  peakRisk: "HIGH",
  quarantined: true,
  killed: false,
};

const ESC = "\u001b";

/** Removes SGR sequences (ESC [ ... m). */
function stripColours(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ESC && text[i + 1] === "[") {
      const end = text.indexOf("m", i);
      if (end >= 0) {
        i = end;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

function capture(columns?: number) {
  let text = "";
  return { write: (chunk: string) => (text += chunk), columns, text: () => text };
}

const fleet = {
  openCircuits: [],
  deploymentsFrozen: false,
  freezeReasons: [],
  simulatedMs: 64_000,
  wallMs: 1_234,
  scenes: 1,
  contained: 1,
};

describe("Renderer", () => {
  it("writes plain lines without colours or cursor control when not interactive", () => {
    const out = capture();
    const renderer = new Renderer(out, { color: false, interactive: false });
    const progress = renderer.scene(1, 1, scene);
    progress.update("turn 3");
    progress.done({ contained: true, headline: "stopped", lines: ["detail"], facts: {} }, 120);
    renderer.summary([row], fleet);
    const text = out.text();
    expect(text).not.toContain(ESC);
    expect(text).not.toContain("\r");
    expect(text).toContain(
      "[1/1] Runaway loop: an agent repeats the same tool call\n  ✔ stopped\n    · detail\n",
    );
    expect(text).toMatch(
      /support-bot\s+LangChain\.js\s+5\s+2\s+\$0\.0118 \/ \$5\.00\s+CLOSED\s+HEALTHY\s+QUARANTINED \(HIGH\)\n/,
    );
    expect(text).toContain("simulated time 1 min 4 s");
  });

  it("draws a spinner line cut to the terminal width, then replaces it with the result", () => {
    vi.useFakeTimers();
    try {
      const out = capture(40);
      const renderer = new Renderer(out, { color: true, interactive: true });
      const progress = renderer.scene(1, 1, scene);
      progress.update("a very long progress text that cannot fit in forty columns at all");
      vi.advanceTimersByTime(100); // one spinner frame (80 ms) redraws the long text
      progress.done({ contained: false, headline: "not contained", lines: [], facts: {} }, 50);
      const text = out.text();
      const spinnerLines = text.split("\r\x1b[2K").filter((part) => part.includes("—"));
      expect(spinnerLines.length).toBeGreaterThan(1);
      for (const line of spinnerLines) expect(stripColours(line).length).toBeLessThanOrEqual(40);
      expect(text).toContain("\x1b[31m✖\x1b[0m");
    } finally {
      vi.useRealTimers();
    }
  });

  it("formats simulated durations", () => {
    expect(formatDuration(4_000)).toBe("4 s");
    expect(formatDuration(1_844_000)).toBe("30 min 44 s");
    expect(formatDuration(7_300_000)).toBe("2 h 1 min");
  });
});
