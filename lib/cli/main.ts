/**
 * Entry of the `celeriac` command: bin/celeriac.mjs imports it compiled (dist/cli.js) in an
 * installed package, or from the sources under tsx in a checkout. The one place the CLI
 * reads process.env and argv; it hands env to lib/config.ts through the targets.
 */
import { runCli } from './program';

// The SQS emulator runs on node:sqlite, which Node 22 flags as experimental on every start: that
// line is noise to a CLI user. Every other warning still prints, through Node's own handler.
const defaultWarningHandlers = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && /SQLite/i.test(w.message)) return;
  for (const h of defaultWarningHandlers) h(w);
});

const code = await runCli(process.argv.slice(2), { env: process.env, cwd: process.cwd() });
// process.exitCode rather than exit(): stdout is flushed before the process ends.
process.exitCode = code;
// A safety net, not the normal path: if a client library left a socket open, still exit soon.
setTimeout(() => process.exit(code), 1_000).unref();
