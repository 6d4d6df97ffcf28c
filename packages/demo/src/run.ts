import { parseArgs } from "node:util";
import { type DashboardServer, serveDashboard } from "@agent-sre/dashboard";
import { type AgentRow, DEMO_START_MS, Fleet } from "./fleet.js";
import { Renderer, type Writer } from "./render.js";
import type { Scene, SceneFacts, SceneName } from "./scene.js";
import { alertsScene } from "./scenes/alerts.js";
import { anomalyScene } from "./scenes/anomaly.js";
import { canaryScene } from "./scenes/canary.js";
import { cascadeScene } from "./scenes/cascade.js";
import { chaosScene } from "./scenes/chaos.js";
import { costScene } from "./scenes/cost.js";
import { downgradeScene } from "./scenes/downgrade.js";
import { driftScene } from "./scenes/drift.js";
import { failoverScene } from "./scenes/failover.js";
import { loopScene } from "./scenes/loop.js";
import { replayScene } from "./scenes/replay.js";
import { restartScene } from "./scenes/restart.js";
import { retryStormScene } from "./scenes/retry-storm.js";
import { rogueScene } from "./scenes/rogue.js";
import { rollbackScene } from "./scenes/rollback.js";

/** Every scene, in the order the full demo plays them. */
export const SCENES: readonly Scene[] = [
  loopScene,
  // Before drift: the drift scene exhausts an SLO that freezes deployments, which would hold these rollouts.
  canaryScene,
  rollbackScene,
  downgradeScene,
  driftScene,
  costScene,
  anomalyScene,
  rogueScene,
  cascadeScene,
  retryStormScene,
  chaosScene,
  failoverScene,
  alertsScene,
  restartScene,
  replayScene,
];

export const SCENE_NAMES: readonly SceneName[] = SCENES.map((scene) => scene.name);

export interface DemoOptions {
  /** Scenes to run (default: all, in order). */
  scenes?: readonly SceneName[];
  /** Print the result as JSON instead of the terminal report. */
  json?: boolean;
  /** Seed of the chaos experiments (default 42). Everything else is scripted. */
  seed?: number;
  /** Where output goes (default `process.stdout`). */
  output?: Writer & { isTTY?: boolean };
  /** Colours (default: a TTY and no `NO_COLOR`). */
  color?: boolean;
  /** Spinner and in-place updates (default: a TTY). */
  interactive?: boolean;
  /** Called with the fleet before the first scene (e.g. to serve a dashboard over its engine). */
  onFleet?: (fleet: Fleet) => void | Promise<void>;
  /** Called after the summary, before the fleet closes (e.g. to keep serving until interrupted). */
  hold?: (fleet: Fleet) => Promise<void>;
  /** Called with each scene's live progress text (tests, embedding). */
  onProgress?: (scene: SceneName, text: string) => void;
}

export interface SceneReport {
  name: SceneName;
  title: string;
  failure: string;
  contained: boolean;
  headline: string;
  lines: string[];
  facts: SceneFacts;
  /** Set when the scene threw. */
  error?: string;
}

/** What `--json` prints. Deterministic for a given seed (no wall-clock figures). */
export interface DemoResult {
  seed: number;
  offline: true;
  /** Every scene contained its failure. */
  ok: boolean;
  scenes: SceneReport[];
  agents: AgentRow[];
  fleet: {
    openCircuits: string[];
    deploymentsFrozen: boolean;
    freezeReasons: string[];
    /** Simulated time the demo covered, ms. */
    simulatedMs: number;
  };
}

/**
 * Runs the demo: the chosen scenes on one fleet (one engine), printing live progress and a summary table
 * (or, with `json`, one JSON document). Resolves with the result; never exits the process.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const output = options.output ?? process.stdout;
  const tty = output.isTTY === true;
  const seed = options.seed ?? 42;
  const names = options.scenes ?? SCENE_NAMES;
  for (const name of names) {
    if (!SCENE_NAMES.includes(name))
      throw new Error(`unknown scene "${name}" (scenes: ${SCENE_NAMES.join(", ")})`);
  }
  const chosen = SCENES.filter((scene) => names.includes(scene.name));
  const renderer = new Renderer(output, {
    color: options.color ?? (tty && process.env.NO_COLOR === undefined),
    interactive: options.json === true ? false : (options.interactive ?? tty),
  });
  const quiet = options.json === true;
  const started = performance.now();
  const fleet = new Fleet({ seed });
  const reports: SceneReport[] = [];
  await options.onFleet?.(fleet);
  if (!quiet) renderer.header(chosen, seed);
  try {
    for (const [i, scene] of chosen.entries()) {
      const progress = quiet ? undefined : renderer.scene(i + 1, chosen.length, scene);
      const sceneStarted = performance.now();
      try {
        const outcome = await scene.run({
          fleet,
          progress: (text) => {
            progress?.update(text);
            options.onProgress?.(scene.name, text);
          },
        });
        progress?.done(outcome, performance.now() - sceneStarted);
        reports.push({ name: scene.name, title: scene.title, failure: scene.failure, ...outcome });
      } catch (error) {
        progress?.failed(error);
        reports.push({
          name: scene.name,
          title: scene.title,
          failure: scene.failure,
          contained: false,
          headline: "the scene failed",
          lines: [],
          facts: {},
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    const status = fleet.sre.status();
    const result: DemoResult = {
      seed,
      offline: true,
      ok: reports.every((r) => r.contained),
      scenes: reports,
      agents: fleet.rows(),
      fleet: {
        openCircuits: status.openCircuits,
        deploymentsFrozen: status.deploymentsFrozen,
        freezeReasons: status.freezeReasons,
        simulatedMs: fleet.clock.now() - DEMO_START_MS,
      },
    };
    if (quiet) {
      output.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      renderer.summary(result.agents, {
        ...result.fleet,
        wallMs: performance.now() - started,
        scenes: reports.length,
        contained: reports.filter((r) => r.contained).length,
      });
    }
    await options.hold?.(fleet);
    return result;
  } finally {
    await fleet.close();
  }
}

const HELP = `agent-sre demo: a fleet of real agents (LangChain.js, the AI SDK, MCP servers behind the agent-sre
proxy) failing in the five ways agents fail, and the guard containing each. Offline: scripted models,
simulated time, ~10 s.

Usage: agent-sre demo [options]

  --scene <name>   run one scene (repeatable, or comma-separated): ${SCENE_NAMES.join(", ")}
  --json           print the result as JSON (deterministic for a seed)
  --seed <n>       seed of the chaos experiments (default 42)
  --no-color       no colours, no spinner
  --serve          keep serving the live dashboard after the demo (until Ctrl-C)
  --port <n>       dashboard port (default: any free port)
  --no-dashboard   do not serve the dashboard
  --list           list the scenes
  -h, --help       this help
`;

/**
 * The command line: `agent-sre demo [--scene <name>] [--json] [--seed <n>]`. Returns the exit code:
 * 0 when every scene's failure was contained, 1 when one was not (or a scene failed), 2 on bad usage.
 */
export async function runDemoCli(
  argv: readonly string[],
  io: { out?: Writer & { isTTY?: boolean }; err?: Writer } = {},
): Promise<number> {
  const out = io.out ?? process.stdout;
  const err = io.err ?? process.stderr;
  let values: {
    scene?: string[];
    json?: boolean;
    seed?: string;
    "no-color"?: boolean;
    serve?: boolean;
    port?: string;
    "no-dashboard"?: boolean;
    list?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        scene: { type: "string", multiple: true },
        json: { type: "boolean" },
        seed: { type: "string" },
        "no-color": { type: "boolean" },
        serve: { type: "boolean" },
        port: { type: "string" },
        "no-dashboard": { type: "boolean" },
        list: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    err.write(`agent-sre demo: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    out.write(HELP);
    return 0;
  }
  if (values.list === true) {
    for (const scene of SCENES) out.write(`${scene.name.padEnd(8)} ${scene.title}: ${scene.failure}\n`);
    return 0;
  }
  const scenes = values.scene?.flatMap((value) => value.split(",")).map((value) => value.trim());
  const unknown = scenes?.filter((name) => !SCENE_NAMES.includes(name as SceneName)) ?? [];
  if (unknown.length > 0) {
    err.write(`agent-sre demo: unknown scene "${unknown[0]}" (scenes: ${SCENE_NAMES.join(", ")})\n`);
    return 2;
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    err.write(`agent-sre demo: --seed must be an integer, got "${values.seed}"\n`);
    return 2;
  }
  const options: DemoOptions = { output: out, json: values.json === true };
  if (scenes !== undefined) options.scenes = scenes as SceneName[];
  if (seed !== undefined) options.seed = seed;
  if (values["no-color"] === true) {
    options.color = false;
    options.interactive = false;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    err.write(`agent-sre demo: --port must be a port number, got "${values.port}"\n`);
    return 2;
  }
  // The live dashboard over the demo's engine: printed as the demo starts; --serve keeps it up afterwards.
  // With --json, stdout carries only the JSON, so the address goes to stderr (and only with --serve).
  const serve = values.serve === true;
  let dashboard: DashboardServer | undefined;
  if (values["no-dashboard"] !== true && (serve || values.json !== true)) {
    const say = values.json === true ? err : out;
    options.onFleet = async (fleet) => {
      dashboard = await serveDashboard(fleet.sre, {
        port,
        title: "Agent SRE demo",
        framework: (agentId) => fleet.frameworkOf(agentId),
      });
      say.write(
        `Dashboard: ${dashboard.url}${serve ? "" : "  (live while the demo runs; --serve keeps it up)"}\n`,
      );
    };
    if (serve) {
      options.hold = () =>
        new Promise<void>((resolve) => {
          say.write(`Serving the dashboard at ${dashboard?.url} (Ctrl-C to stop)\n`);
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            resolve();
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
    }
  }
  try {
    const result = await runDemo(options);
    return result.ok ? 0 : 1;
  } finally {
    await dashboard?.close();
  }
}
