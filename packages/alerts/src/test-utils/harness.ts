import { type AgentSREEventName, type AgentSREEvents, EventBus, ManualClock } from "@agent-sre/core";
import { AlertManager } from "../manager.js";
import type { AlertManagerOptions } from "../manager-types.js";

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** An engine event bus + manual clock + manager, and a logger that keeps what it was told. */
export async function harness(
  options: Omit<AlertManagerOptions, "clock" | "sre" | "logger"> & { clock?: ManualClock },
) {
  const clock = options.clock ?? new ManualClock(T0);
  const bus = new EventBus();
  const logs: string[] = [];
  const manager = new AlertManager({
    random: () => 0.5,
    ...options,
    clock,
    sre: { on: (name, listener) => bus.on(name, listener), events: bus },
    logger: { warn: (message) => logs.push(message) },
  });
  await manager.ready;
  const emit = <K extends AgentSREEventName>(
    name: K,
    payload: Omit<AgentSREEvents[K], "at"> & { at?: number },
  ) => bus.emit(name, { at: clock.now(), ...payload } as AgentSREEvents[K]);
  /** Advances the clock and lets deliveries started on the way settle. */
  const advance = async (ms: number) => {
    await clock.advanceAsync(ms);
    await manager.idle();
  };
  return { clock, bus, manager, logs, emit, advance };
}

export const breakerOpen = (breakerId: string, failureCount = 5) => ({
  breakerId,
  from: "CLOSED" as const,
  to: "OPEN" as const,
  reason: `${failureCount} consecutive failures`,
  failureCount,
  recoveryTimeoutMs: 30_000,
});

export const breakerClose = (breakerId: string) => ({
  breakerId,
  from: "HALF_OPEN" as const,
  to: "CLOSED" as const,
  reason: "probe succeeded",
  failureCount: 0,
});
