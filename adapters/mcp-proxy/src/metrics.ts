import type { AgentSRE } from "@agent-sre/core";
import { EnginePrometheus } from "@agent-sre/telemetry/prometheus";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one proxy, in a registry of its own (never the global one). */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** The engine's metrics (`agent_sre_*`), served beside the proxy's own. */
  readonly engine: EnginePrometheus;
  readonly #calls: Counter<"server" | "tool" | "decision" | "outcome">;
  readonly #duration: Histogram<"server" | "tool">;
  readonly #refusals: Counter<"code">;
  readonly #restarts: Counter<"server">;
  readonly #drift: Counter<"server" | "severity">;
  /** Label children cached per label set: `labels()` hashes its arguments on every call otherwise. */
  readonly #callChildren = new Map<string, { inc(): void }>();
  readonly #durationChildren = new Map<string, { observe(v: number): void }>();

  constructor(
    sre: AgentSRE,
    upstreamStates: () => Array<{ server: string; up: number }>,
    sessions: () => number,
  ) {
    const registers = [this.registry];
    this.#calls = new Counter({
      name: "agent_sre_mcp_tool_calls_total",
      help: "tools/call requests by upstream server, tool, decision (allowed|refused) and outcome",
      labelNames: ["server", "tool", "decision", "outcome"],
      registers,
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
    const key = `${server}\u0000${tool}\u0000${decision}\u0000${outcome}`;
    let child = this.#callChildren.get(key);
    if (child === undefined) {
      child = this.#calls.labels(server, tool, decision, outcome);
      this.#callChildren.set(key, child);
    }
    child.inc();
    if (seconds !== undefined) {
      const durationKey = `${server}\u0000${tool}`;
      let histogram = this.#durationChildren.get(durationKey);
      if (histogram === undefined) {
        histogram = this.#duration.labels(server, tool);
        this.#durationChildren.set(durationKey, histogram);
      }
      histogram.observe(seconds);
    }
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
