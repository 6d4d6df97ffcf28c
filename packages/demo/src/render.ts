/**
 * Terminal output: a spinner line per scene while it runs (terminals only), then what happened; a summary
 * table at the end. Without a TTY (CI, pipes) there are no colours, no spinner and no cursor movement:
 * one plain line per event, readable in a log.
 */
import type { AgentRow } from "./fleet.js";
import { type Scene, type SceneOutcome, usd } from "./scene.js";

export interface Writer {
  write(text: string): unknown;
  /** Terminal width, when the writer is a terminal. */
  columns?: number;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export class Style {
  constructor(readonly enabled: boolean) {}
  #wrap(code: string, text: string): string {
    return this.enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
  bold = (text: string) => this.#wrap("1", text);
  dim = (text: string) => this.#wrap("2", text);
  red = (text: string) => this.#wrap("31", text);
  green = (text: string) => this.#wrap("32", text);
  yellow = (text: string) => this.#wrap("33", text);
  cyan = (text: string) => this.#wrap("36", text);
}

/** Live progress of one scene. */
export interface SceneProgress {
  update(text: string): void;
  done(outcome: SceneOutcome, wallMs: number): void;
  failed(error: unknown): void;
}

export class Renderer {
  readonly style: Style;
  readonly #out: Writer;
  readonly #interactive: boolean;

  constructor(out: Writer, options: { color: boolean; interactive: boolean }) {
    this.#out = out;
    this.style = new Style(options.color);
    this.#interactive = options.interactive;
  }

  line(text = ""): void {
    this.#out.write(`${text}\n`);
  }

  header(scenes: readonly Scene[], seed: number): void {
    const s = this.style;
    this.line(s.bold("agent-sre demo") + s.dim(" — real agents failing, and the guard containing each"));
    this.line(
      s.dim(
        `LangChain.js createAgent + AI SDK generateText/streamText + MCP servers behind the agent-sre proxy · ` +
          `scripted models (offline) · seed ${seed} · ${scenes.length} scene${scenes.length === 1 ? "" : "s"}`,
      ),
    );
    this.line();
  }

  scene(index: number, total: number, scene: Scene): SceneProgress {
    const s = this.style;
    const prefix = `[${index}/${total}]`;
    const label = `${s.dim(prefix)} ${s.bold(scene.title)}`;
    let text = scene.failure;
    let frame = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const draw = () => {
      // One line only (a wrapped line could not be redrawn in place): cut the text to the terminal width.
      const room = (this.#out.columns ?? 80) - (prefix.length + scene.title.length + 6);
      const shown = text.length <= room ? text : `${text.slice(0, Math.max(0, room - 1))}…`;
      const spinner = s.cyan(FRAMES[frame++ % FRAMES.length] as string);
      this.#out.write(`\r\x1b[2K${spinner} ${label} ${s.dim(`— ${shown}`)}`);
    };
    if (this.#interactive) {
      draw();
      timer = setInterval(draw, 80);
      timer.unref?.();
    } else {
      this.line(`${label}: ${scene.failure}`);
    }
    const stop = () => {
      if (timer !== undefined) clearInterval(timer);
      if (this.#interactive) this.#out.write("\r\x1b[2K");
    };
    return {
      update: (next) => {
        text = next;
      },
      done: (outcome, wallMs) => {
        stop();
        const mark = outcome.contained ? s.green("✔") : s.red("✖");
        const took = s.dim(`(${(wallMs / 1000).toFixed(1)} s)`);
        if (this.#interactive) this.line(`${mark} ${label} ${took}`);
        this.line(`  ${mark} ${outcome.headline}`);
        for (const detail of outcome.lines) this.line(s.dim(`    · ${detail}`));
        if (!this.#interactive) this.line(s.dim(`    (${(wallMs / 1000).toFixed(1)} s)`));
        this.line();
      },
      failed: (error) => {
        stop();
        if (this.#interactive) this.line(`${s.red("✖")} ${label}`);
        this.line(
          `  ${s.red("✖")} the scene failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        this.line();
      },
    };
  }

  summary(rows: readonly AgentRow[], fleet: FleetSummary): void {
    const s = this.style;
    const header = ["agent", "framework", "calls", "blocked", "spend / budget", "breaker", "SLO", "risk"];
    const cells = rows.map((row) => [
      row.agent,
      row.framework,
      String(row.calls),
      String(row.blocked),
      `${usd(row.spentUsd, 4)} / ${row.budgetUsd === null ? "—" : usd(row.budgetUsd, 2)}${row.killed ? " KILLED" : ""}`,
      `${row.breaker}${row.breakerTrips > 0 ? ` (${row.breakerTrips} trip${row.breakerTrips === 1 ? "" : "s"})` : ""}`,
      row.slo,
      row.quarantined
        ? `QUARANTINED (${row.peakRisk})`
        : row.peakRisk !== row.risk
          ? `${row.risk} (peak ${row.peakRisk})`
          : row.risk,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
    const numeric = new Set([2, 3]);
    const pad = (text: string, i: number) =>
      numeric.has(i) ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number);
    const paint = (text: string, i: number, row: AgentRow) => {
      const padded = pad(text, i);
      if (i === 4 && row.killed) return s.red(padded);
      if (i === 5)
        return row.breaker === "CLOSED"
          ? row.breakerTrips > 0
            ? s.yellow(padded)
            : s.green(padded)
          : s.red(padded);
      if (i === 6)
        return /EXHAUSTED|CRITICAL/.test(text)
          ? s.red(padded)
          : text === "WARNING"
            ? s.yellow(padded)
            : padded;
      if (i === 7)
        return row.quarantined || /HIGH|CRITICAL/.test(text)
          ? s.red(padded)
          : text === "MEDIUM"
            ? s.yellow(padded)
            : padded;
      if (i === 3 && row.blocked > 0) return s.yellow(padded);
      return padded;
    };
    this.line(s.bold("Fleet summary"));
    this.line(
      header
        .map((h, i) => s.bold(pad(h, i)))
        .join("  ")
        .trimEnd(),
    );
    this.line(s.dim(widths.map((w) => "─".repeat(w)).join("  ")));
    rows.forEach((row, r) => {
      this.line(
        (cells[r] as string[])
          .map((c, i) => paint(c, i, row))
          .join("  ")
          .trimEnd(),
      );
    });
    this.line();
    this.line(
      `open circuits: ${fleet.openCircuits.length === 0 ? "none" : fleet.openCircuits.join(", ")} · ` +
        `deployments frozen: ${fleet.deploymentsFrozen ? `yes (${fleet.freezeReasons.join("; ")})` : "no"}`,
    );
    this.line(
      s.dim(
        `simulated time ${formatDuration(fleet.simulatedMs)} · wall time ${(fleet.wallMs / 1000).toFixed(1)} s · ` +
          `${fleet.contained}/${fleet.scenes} failure modes contained`,
      ),
    );
  }
}

export interface FleetSummary {
  openCircuits: string[];
  deploymentsFrozen: boolean;
  freezeReasons: string[];
  simulatedMs: number;
  wallMs: number;
  scenes: number;
  contained: number;
}

export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec} s` : `${sec} s`;
}
