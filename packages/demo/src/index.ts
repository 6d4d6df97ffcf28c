// The public API of @agent-sre/demo: `runDemo(options)` (what `agent-sre demo` runs), the command line, the
// scenes, and the fleet they run on.
export { DemoClock } from "./clock.js";
export {
  type AgentRow,
  DEMO_START_MS,
  Fleet,
  type Framework,
  fleetPolicy,
  type LoggedEvent,
} from "./fleet.js";
export {
  everythingServerPath,
  type Gateway,
  inventoryServerPath,
  type McpCallOutcome,
  startGateway,
} from "./mcp.js";
export {
  type DemoOptions,
  type DemoResult,
  runDemo,
  runDemoCli,
  SCENE_NAMES,
  SCENES,
  type SceneReport,
} from "./run.js";
export type { Scene, SceneContext, SceneFacts, SceneName, SceneOutcome } from "./scene.js";
export { alertsScene } from "./scenes/alerts.js";
export { anomalyScene } from "./scenes/anomaly.js";
export { canaryScene } from "./scenes/canary.js";
export { cascadeScene } from "./scenes/cascade.js";
export { chaosScene } from "./scenes/chaos.js";
export { costScene } from "./scenes/cost.js";
export { downgradeScene } from "./scenes/downgrade.js";
export { driftScene } from "./scenes/drift.js";
export { failoverScene } from "./scenes/failover.js";
export { loopScene } from "./scenes/loop.js";
export { replayScene } from "./scenes/replay.js";
export { restartScene } from "./scenes/restart.js";
export { retryStormScene } from "./scenes/retry-storm.js";
export { rogueScene } from "./scenes/rogue.js";
export { rollbackScene } from "./scenes/rollback.js";
