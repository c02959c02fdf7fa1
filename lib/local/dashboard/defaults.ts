/** Dashboard defaults, in a module of their own so the CLI's `--help` need not load the server. */

/** The port `celeriac dev` serves the dashboard on unless told otherwise. */
export const DEFAULT_DASHBOARD_PORT = 8787;
