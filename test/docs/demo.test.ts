/**
 * `npm run demo`, as a newcomer sees it without a terminal (CI, a pipe): it runs the shop on the
 * embedded local default, each line fits 80 columns, it says what is still waiting in plain words
 * and ends with what to try next.
 */
import { describe, expect, it } from 'vitest';
import { exec, ROOT } from '../cli/helpers';

describe('the demo', () => {
  it('runs every step, fits 80 columns and ends with what to try next', async () => {
    const r = await exec(process.execPath, ['--import', 'tsx', 'examples/shop/demo.ts'], { cwd: ROOT, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    for (let step = 1; step <= 6; step++) expect(r.stdout).toContain(`[${step}/6]`);
    expect(lines.filter((l) => [...l].length > 80)).toEqual([]);
    expect(r.stdout).toMatch(/^\d+ tasks ran and published \d+ events in /m);
    expect(r.stdout).not.toMatch(/horizon/);
    const next = lines.indexOf('Try next:');
    expect(next).toBeGreaterThan(0);
    expect(lines.slice(next + 1).join('\n')).toContain('npx celeriac init my-app');
    expect(r.stdout).toContain('total=9');
  });
});
