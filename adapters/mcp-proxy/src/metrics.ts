import type { AgentSRE } from "@agent-sre/core";
import { EnginePrometheus } from "@agent-sre/telemetry/prometheus";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one proxy, in a registry of its own (never the global one). */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** The engine's metrics (`agent_sre_*`), served beside the proxy's own. */
  readonly engine: EnginePrometheus;
  readonly #duration: Histogram<"server" | "tool">;
  readonly #refusals: Counter<"code">;
  readonly #restarts: Counter<"server">;
  readonly #drift: Counter<"server" | "severity">;
  /**
   * Calls counted here per label set (server → tool → decision → outcome, no key string per call) and added
   * to the Prometheus counter when it is collected: prom-client hashes the label set on every `inc`.
   */
  readonly #callCounts = new Map<string, Map<string, Map<string, Map<string, CallCount>>>>();
  /** Histogram children cached per label set (`labels()` would validate and copy them on every call). */
  readonly #durationChildren = new Map<string, Map<string, { observe(v: number): void }>>();

  constructor(
    sre: AgentSRE,
    upstreamStates: () => Array<{ server: string; up: number }>,
    sessions: () => number,
  ) {
    const registers = [this.registry];
    const callCounts = this.#callCounts;
    new Counter({
      name: "agent_sre_mcp_tool_calls_total",
      help: "tools/call requests by upstream server, tool, decision (allowed|refused) and outcome",
      labelNames: ["server", "tool", "decision", "outcome"],
      registers,
      collect() {
        for (const byTool of callCounts.values())
          for (const byDecision of byTool.values())
            for (const byOutcome of byDecision.values())
              for (const count of byOutcome.values()) {
                if (count.pending === 0) continue;
                this.inc(count.labels, count.pending);
                count.pending = 0;
              }
      },
    });
    this.#duration = new Histogram({
      name: "agent_sre_mcp_tool_duration_seconds",
      help: "Latency of allowed tools/call requests as seen by the proxy",
      labelNames: ["server", "tool"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#refusals = new Counter({
      name: "agent_sre_mcp_refusals_total",
      help: "tools/call requests refused, by refusal code",
      labelNames: ["code"],
      registers,
    });
    this.#restarts = new Counter({
      name: "agent_sre_mcp_upstream_restarts_total",
      help: "Upstream reconnects after a crash or a lost session",
      labelNames: ["server"],
      registers,
    });
    this.#drift = new Counter({
      name: "agent_sre_mcp_tool_drift_total",
      help: "Tool definition drift reports, by server and worst severity",
      labelNames: ["server", "severity"],
      registers,
    });
    new Gauge({
      name: "agent_sre_mcp_upstream_up",
      help: "Connected upstream sessions per server",
      labelNames: ["server"],
      registers,
      collect() {
        this.reset();
        for (const { server, up } of upstreamStates()) this.set({ server }, up);
      },
    });
    new Gauge({
      name: "agent_sre_mcp_sessions",
      help: "Client sessions being served",
      registers,
      collect() {
        this.set(sessions());
      },
    });
    // The engine's own metrics (calls, refusals, breakers, spend vs limits, SLO burn rates) in the same registry.
    this.engine = new EnginePrometheus(sre, { registry: this.registry });
  }

  call(server: string, tool: string, decision: string, outcome: string, seconds: number | undefined): void {
    const byOutcome = this.#byOutcome(server, tool, decision);
    const count = byOutcome.get(outcome);
    if (count !== undefined) count.pending++;
    else byOutcome.set(outcome, { labels: { server, tool, decision, outcome }, pending: 1 });
    if (seconds !== undefined) {
      let byTool = this.#durationChildren.get(server);
      if (byTool === undefined) {
        byTool = new Map();
        this.#durationChildren.set(server, byTool);
      }
      let histogram = byTool.get(tool);
      if (histogram === undefined) {
        histogram = this.#duration.labels(server, tool);
        byTool.set(tool, histogram);
      }
      histogram.observe(seconds);
    }
  }

  #byOutcome(server: string, tool: string, decision: string): Map<string, CallCount> {
    let byTool = this.#callCounts.get(server);
    if (byTool === undefined) {
      byTool = new Map();
      this.#callCounts.set(server, byTool);
    }
    let byDecision = byTool.get(tool);
    if (byDecision === undefined) {
      byDecision = new Map();
      byTool.set(tool, byDecision);
    }
    let byOutcome = byDecision.get(decision);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      byDecision.set(decision, byOutcome);
    }
    return byOutcome;
  }

  refusal(code: string): void {
    this.#refusals.labels(code).inc();
  }

  restart(server: string): void {
    this.#restarts.labels(server).inc();
  }

  drift(server: string, severity: string): void {
    this.#drift.labels(server, severity).inc();
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Calls of one label set not yet added to the Prometheus counter. */
interface CallCount {
  readonly labels: { server: string; tool: string; decision: string; outcome: string };
  pending: number;
}
