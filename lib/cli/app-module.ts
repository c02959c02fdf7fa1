import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { App } from '../app';
import { usage } from './errors';

/** The module `dev` (and the AWS target, for task → queue routing) loads when none is given. */
export const DEFAULT_APP_MODULE = 'src/app.ts';

const TS_MODULE = /\.[mc]?tsx?$/;

let tsLoader: Promise<void> | undefined;

/**
 * Registers tsx's ESM loader (a dependency) in this process, once, so that the compiled CLI can
 * import a user's TypeScript app module and what it imports (extensionless specifiers, tsconfig
 * paths) — which Node's own type stripping does not cover. Only for a TypeScript module: a
 * JavaScript one loads as it is. When this file itself runs as TypeScript (the repository's
 * sources under tsx or vitest), a loader is already in place.
 */
function ensureTsLoader(): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return Promise.resolve();
  tsLoader ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return tsLoader;
}

/**
 * One line saying where the module broke. tsx reports a syntax error as "Transform failed with
 * N error(s):" followed by `file:line:column: ERROR: message` lines; for a JavaScript module
 * (`jsModule`, its path) the location comes from {@link syntaxErrorLocation}.
 */
export function describeLoadError(e: unknown, jsModule?: string): string {
  if (!(e instanceof Error)) return String(e);
  const lines = e.message.split('\n').filter((l) => l.trim() !== '');
  if (/^Transform failed with \d+ errors?:$/.test(lines[0] ?? '') && lines.length > 1) {
    return lines.slice(1).join('; ');
  }
  if (e instanceof SyntaxError && jsModule !== undefined) {
    const where = syntaxErrorLocation(jsModule);
    if (where) return `${where}: ${e.name}: ${lines[0] ?? e.message}`;
  }
  return lines[0] ?? e.message;
}

/**
 * `file:line` of a JavaScript module's syntax error: a dynamic import's SyntaxError carries no
 * location (Node prints it only for an uncaught error), so ask `node --check`, which prints it on
 * its first line. Undefined when the error is in another module the app imports.
 */
function syntaxErrorLocation(file: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  const first = /^(\S+):(\d+)$/m.exec(r.stderr ?? '');
  if (r.status === 0 || !first?.[1] || !first[2]) return undefined;
  return `${first[1].startsWith('file:') ? fileURLToPath(first[1]) : first[1]}:${first[2]}`;
}

/**
 * Duck-typed rather than `instanceof App`: an app module may import celeriac through another
 * path (a package install next to a checkout) and so hold another copy of the class.
 */
function isApp(v: unknown): v is App {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.name === 'string' &&
    typeof o.taskNames === 'function' &&
    typeof o.topology === 'function' &&
    typeof o.sendTask === 'function' &&
    typeof o.use === 'function' &&
    typeof o.signals === 'object'
  );
}

/**
 * Imports an app module and returns the app it exports: the `app` export, else the default
 * export, else the only export that is an app.
 *
 * @throws CliError (usage) when the file is missing, fails to load, or exports no app.
 */
export async function loadApp(modulePath: string, cwd: string = process.cwd()): Promise<App> {
  const abs = resolve(cwd, modulePath);
  if (!existsSync(abs)) {
    throw usage(`app module ${modulePath} not found (looked in ${cwd}); pass the path of the module that exports your app`);
  }
  let mod: Record<string, unknown>;
  try {
    if (TS_MODULE.test(abs)) await ensureTsLoader();
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw usage(`app module ${modulePath} failed to load: ${describeLoadError(e, TS_MODULE.test(abs) ? undefined : abs)}`);
  }
  if (isApp(mod.app)) return mod.app;
  if (isApp(mod.default)) return mod.default;
  const apps = Object.values(mod).filter(isApp);
  if (apps.length === 1) return apps[0] as App;
  if (apps.length > 1) {
    throw usage(`app module ${modulePath} exports ${apps.length} apps; export the one to run as "app"`);
  }
  throw usage(`app module ${modulePath} does not export an app; add \`export const app = createApp({ name: '…' })\``);
}
