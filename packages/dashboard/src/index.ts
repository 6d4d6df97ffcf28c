// @agent-sre/dashboard: a live web dashboard for a running Agent SRE engine.
export type {
  AgentRow,
  AlertControl,
  AlertEntry,
  DashboardState,
  Decision,
  FleetFeedOptions,
  ManagedAlerts,
  SloView,
} from "./feed.js";
export { FleetFeed } from "./feed.js";
export { createDashboardHandler, type DashboardHandler, type DashboardHandlerOptions } from "./handler.js";
export { COOKIE_NAME, csrfSafe, isLoopback, OriginPolicy, TokenGate } from "./security.js";
export { type DashboardServer, type ServeDashboardOptions, serveDashboard } from "./server.js";
