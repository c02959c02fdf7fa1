/**
 * The README's quick start runs as written: its two files (`// src/app.ts`, `// try.ts`) are
 * taken from README.md as they are, typechecked, and run with tsx against the repository's sources.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DASHBOARD_PORT } from '../../lib/local/dashboard/defaults';
import { exec, ROOT, removeDir, repoScratchDir, typecheck } from '../cli/helpers';

/** The ```ts blocks of `markdown` whose first line is `// <path>`, by path. */
function filesIn(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const [, body] of markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const first = /^\/\/ (\S+\.ts)\n/.exec(body as string);
    if (first) files.set(first[1] as string, body as string);
  }
  return files;
}

describe('README', () => {
  it('names the dashboard address celeriac dev serves by default', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const ports = [...readme.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    expect(ports.length).toBeGreaterThan(0);
    expect(new Set(ports)).toEqual(new Set([DEFAULT_DASHBOARD_PORT]));
  });
});

describe('README quick start', () => {
  let dir: string;
  beforeAll(() => {
    dir = repoScratchDir('readme-');
    const files = filesIn(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect([...files.keys()].sort()).toEqual(['src/app.ts', 'try.ts']);
    for (const [path, body] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), body);
    }
    // The repository's compiler settings and `celeriac*` paths, over these two files.
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), include: ['*.ts', 'src'] }));
  });
  afterAll(() => removeDir(dir));

  it('typechecks', async () => {
    const r = await typecheck(dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 150_000);

  it('runs: the results its comments promise, the hook and the signal handler print', async () => {
    const r = await exec(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'try.ts'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const results = lines.filter((l) => !/^(audit|metrics): /.test(l));
    expect(results).toEqual(['5', 'total=9', '6']);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^audit: report \S+ → total=9$/), 'metrics: sum SUCCESS']));
  }, 90_000);
});
