import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from '../task/app';
import { usage } from './errors';

/** The module `dev` (and the AWS target, for task → queue routing) loads when none is given. */
export const DEFAULT_APP_MODULE = 'src/app.ts';

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
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw usage(`app module ${modulePath} failed to load: ${msg}`);
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
