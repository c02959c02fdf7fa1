/** `celeriac init <dir>`: writes a new project (see ../init-template.ts) into an empty or new directory. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DASHBOARD_PORT } from '../../local/dashboard/defaults';
import { usage } from '../errors';
import { projectFiles, TOOL_PACKAGES, type ToolPackage } from '../init-template';
import { out } from '../io';

export interface InitOptions {
  /** celeriac's dependency spec in the new package.json. @default `^<this package's version>` */
  readonly celeriac?: string;
  /** The app's name. @default the directory's name */
  readonly name?: string;
}

/** The fields of celeriac's own package.json that init reads. */
interface OwnPackage {
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/**
 * celeriac's package.json, found by walking up from this module: the same code runs from the
 * sources (lib/cli/commands) and from a build output at another depth.
 */
function ownPackage(): OwnPackage {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as OwnPackage & { name?: string };
      if (pkg.name === 'celeriac') return pkg;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('celeriac init: cannot find celeriac’s own package.json above its code');
    dir = up;
  }
}

/**
 * The range of each peer and tool: the one celeriac itself is built and tested with (a peer
 * range first, else its own dependency on it), so a new project starts on versions known to work.
 */
function toolVersions(pkg: OwnPackage): Record<ToolPackage, string> {
  const versions = {} as Record<ToolPackage, string>;
  for (const name of Object.keys(TOOL_PACKAGES) as ToolPackage[]) {
    versions[name] = pkg.peerDependencies?.[name] ?? pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? 'latest';
  }
  return versions;
}

/** An npm package name from a directory name: lower case, URL-safe characters only. */
function packageNameOf(dirName: string): string {
  const name = dirName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[-]+$/g, '');
  return name === '' ? 'celeriac-app' : name.slice(0, 214);
}

/** Writes the project and prints the next commands. */
export function initCommand(dir: string, o: InitOptions, cwd: string = process.cwd()): number {
  const target = resolve(cwd, dir);
  const shown = relative(cwd, target) || '.';
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw usage(`${shown} exists and is not a directory; pass a new or empty directory`);
    const entries = readdirSync(target);
    if (entries.length > 0) {
      const listed = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
      throw usage(`${shown} is not empty (${listed}); init writes a new project only into an empty or new directory`);
    }
  }
  const app = o.name ?? packageNameOf(basename(target));
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(app)) {
    throw usage(`app name "${app}" must be 1-64 letters, digits, "-" or "_"; pass --name <name>`);
  }
  const pkg = ownPackage();
  const files = projectFiles({
    app,
    packageName: packageNameOf(basename(target)),
    celeriac: o.celeriac ?? `^${pkg.version}`,
    versions: toolVersions(pkg),
  });
  for (const [path, content] of Object.entries(files)) {
    const file = join(target, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content, { flag: 'wx' });
  }
  const cd = shown === '.' ? [] : [`  cd ${shown}`];
  out(
    [
      `Created app "${app}" in ${shown} (${Object.keys(files).length} files). Next:`,
      ...cd,
      '  npm install',
      '  npm test          # the app in local mode',
      `  npm run dev       # celeriac dev, dashboard on http://127.0.0.1:${DEFAULT_DASHBOARD_PORT}`,
    ].join('\n'),
  );
  return 0;
}
