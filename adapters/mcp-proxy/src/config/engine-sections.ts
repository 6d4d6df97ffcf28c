import {
  AgentSRE,
  type AgentSREOptions,
  type BlackoutWindow,
  type CascadeResponseOptions,
  ChaosExperiment,
  type ChaosRunStore,
  ChaosScheduler,
  type ChaosSchedulerHost,
  ConfigError,
  errorInjection,
  type Fault,
  latencyInjection,
  normalizeFaultType,
  parseDuration,
  privilegeEscalation,
  promptInjection,
  timeoutInjection,
  toolAbuse,
} from "@agent-sre/core";
import { ConfigFileError, type ConfigIssue, hasIssueAt } from "./issues.js";
import type { AgentSreSection, ExperimentConfig } from "./schema.js";

/** Builds the engine pieces each section configures, so an engine-level error is reported at its path. */
export function checkEngineSections(section: AgentSreSection, known: readonly ConfigIssue[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  /** Builds one part; `option` is the engine option it configures (its issues' paths start with it). */
  const attempt = (path: string, option: string, build: () => void) => {
    // A part the schema already rejected is not built (its values may not even have the right types).
    if (hasIssueAt(known, path)) return;
    try {
      build();
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        issues.push(engineIssue(path, error));
        return;
      }
      // The engine reports every problem of a section at once, each at its path in the engine's options
      // (`breakers.defaults.failureThreshold`): moved under the config's section path.
      for (const issue of error.issues.length > 0 ? error.issues : [error]) {
        const field = issue.field === option ? "" : issue.field.replace(new RegExp(`^${option}[.]`), "");
        issues.push({
          path: field === "" ? path : `${path}.${field}`,
          message: issue.message.replace(/^Invalid [^:]+: /, "invalid value "),
        });
      }
    }
  };
  if (section.budgets !== undefined) {
    attempt(
      "agentSre.budgets",
      "budget",
      () => new AgentSRE({ budget: section.budgets as AgentSREOptions["budget"] }),
    );
  }
  if (section.breakers !== undefined) {
    attempt(
      "agentSre.breakers",
      "breakers",
      () => new AgentSRE({ breakers: section.breakers as AgentSREOptions["breakers"] }),
    );
  }
  if (section.rogue !== undefined) {
    attempt(
      "agentSre.rogue",
      "rogue",
      () => new AgentSRE({ rogue: section.rogue as AgentSREOptions["rogue"] }),
    );
  }
  if (section.tools?.timeoutMs !== undefined) {
    attempt("agentSre.tools.timeoutMs", "timeoutMs", () =>
      parseDuration(section.tools?.timeoutMs as number, "timeoutMs", { allowZero: true }),
    );
  }
  if (section.retryBudget !== undefined) {
    attempt(
      "agentSre.retryBudget",
      "retryBudget",
      () => new AgentSRE({ retryBudget: section.retryBudget as false }),
    );
  }
  if (section.cascade !== undefined) {
    attempt(
      "agentSre.cascade",
      "cascade",
      () => new AgentSRE({ cascade: section.cascade as CascadeResponseOptions }),
    );
  }
  const schedules = Array.isArray(section.chaos?.schedules) ? section.chaos.schedules : [];
  schedules.forEach((schedule, index) => {
    const path = `agentSre.chaos.schedules[${index}]`;
    if (hasIssueAt(known, path)) return;
    try {
      buildExperiment(
        { ...schedule.experiment, name: schedule.experiment.name ?? schedule.name },
        `${path}.experiment`,
      );
    } catch (error) {
      issues.push(engineIssue(`${path}.experiment`, error));
    }
  });
  if (section.chaos?.schedules !== undefined || section.chaos?.blackouts !== undefined) {
    // Cron expressions, time zones and windows are checked by building the scheduler (not started).
    attempt("agentSre.chaos", "chaos", () => buildScheduler(new AgentSRE({}), section.chaos ?? {}));
  }
  const experiments = Array.isArray(section.chaos?.experiments) ? section.chaos.experiments : [];
  experiments.forEach((experiment, index) => {
    const path = `agentSre.chaos.experiments[${index}]`;
    if (hasIssueAt(known, path)) return;
    try {
      buildExperiment(experiment, path);
    } catch (error) {
      issues.push(engineIssue(path, error));
    }
  });
  return issues;
}

export function engineIssue(path: string, error: unknown): ConfigIssue {
  if (error instanceof ConfigError) {
    const field = error.field.startsWith(path) ? error.field : `${path}.${error.field}`;
    return { path: field, message: error.message.replace(/^Invalid [^:]+: /, "invalid value ") };
  }
  if (error instanceof ConfigFileError) return error.issues[0] ?? { path, message: error.message };
  return { path, message: error instanceof Error ? error.message : String(error) };
}

/** Builds the (unstarted) chaos scheduler of an `agentSre.chaos` section over an engine. */
export function buildScheduler(
  host: ChaosSchedulerHost,
  chaos: NonNullable<AgentSreSection["chaos"]>,
  store?: ChaosRunStore,
): ChaosScheduler {
  return new ChaosScheduler(host, {
    schedules: (chaos.schedules ?? []).map((schedule, index) => {
      const config = { ...schedule.experiment, name: schedule.experiment.name ?? schedule.name };
      return {
        name: schedule.name,
        cron: schedule.cron,
        ...(schedule.timezone === undefined ? {} : { timezone: schedule.timezone }),
        ...(schedule.catchUpWithinMs === undefined ? {} : { catchUpWithinMs: schedule.catchUpWithinMs }),
        ...(schedule.enabled === undefined ? {} : { enabled: schedule.enabled }),
        experiment: () =>
          buildExperiment(config as ExperimentConfig, `agentSre.chaos.schedules[${index}].experiment`),
      };
    }),
    blackouts: (chaos.blackouts ?? []) as BlackoutWindow[],
    ...(store === undefined ? {} : { store }),
  });
}

/** Turns an `agentSre.chaos.experiments[]` entry into a `ChaosExperiment` (not started). */
export function buildExperiment(config: ExperimentConfig, path = "experiment"): ChaosExperiment {
  const faults: Fault[] = config.faults.map((raw, index) => {
    const field = `${path}.faults[${index}]`;
    const {
      type,
      target = "tool:*",
      ...rest
    } = raw as Record<string, unknown> & { type: string; target?: string };
    try {
      // The seed's names (`privilege_escalation`, `tool_abuse`, ...) are ours under another spelling.
      switch (normalizeFaultType(type)) {
        case "latency":
          return latencyInjection(target, rest as unknown as Parameters<typeof latencyInjection>[1]);
        case "error":
          return errorInjection(target, rest as Parameters<typeof errorInjection>[1]);
        case "timeout":
          return timeoutInjection(target, rest as unknown as Parameters<typeof timeoutInjection>[1]);
        case "prompt-injection":
          return promptInjection(target, rest as Parameters<typeof promptInjection>[1]);
        case "privilege-escalation":
          return privilegeEscalation(target, rest as Parameters<typeof privilegeEscalation>[1]);
        case "tool-abuse":
          return toolAbuse(target, rest as Parameters<typeof toolAbuse>[1]);
        default:
          throw new ConfigFileError([{ path: `${field}.type`, message: `unknown fault type "${type}"` }]);
      }
    } catch (error) {
      if (error instanceof ConfigError) {
        const sub = error.field === "fault" ? "" : `.${error.field}`;
        throw new ConfigFileError([
          { path: `${field}${sub}`, message: error.message.replace(/^Invalid [^:]+: /, "invalid value ") },
        ]);
      }
      throw error;
    }
  });
  const options: ConstructorParameters<typeof ChaosExperiment>[0] = { name: config.name, faults };
  if (config.description !== undefined) options.description = config.description;
  if (config.targetAgent !== undefined) options.targetAgent = config.targetAgent;
  if (config.durationMs !== undefined) options.durationMs = config.durationMs;
  if (config.blastRadius !== undefined) options.blastRadius = config.blastRadius;
  if (config.seed !== undefined) options.seed = config.seed;
  if (config.abortConditions !== undefined) {
    options.abortConditions = config.abortConditions as unknown as NonNullable<
      typeof options.abortConditions
    >;
  }
  return new ChaosExperiment(options);
}
