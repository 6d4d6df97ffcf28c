export { type CliIO, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run, serverName } from "./cli.js";
export { renderStatus, table } from "./status-table.js";
