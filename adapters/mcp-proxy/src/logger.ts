/** Where the proxy reports what it does. Everything goes to stderr: stdout is the MCP channel under stdio. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** A logger that writes `agent-sre <level>: message` lines to stderr (or `write`). */
export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = RANK[level];
  const emit = (at: LogLevel, message: string) => {
    if (RANK[at] >= min) write(`agent-sre ${at}: ${message}\n`);
  };
  return {
    debug: (message) => emit("debug", message),
    info: (message) => emit("info", message),
    warn: (message) => emit("warn", message),
    error: (message) => emit("error", message),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
