/**
 * The dependency direction the README promises, checked on the import graph of lib/ as
 * dependency-cruiser reads it: every import counts — value imports, `import type`, re-exports
 * and inline `import('…')` types, which most scanners miss.
 */
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';

let result: ICruiseResult;

beforeAll(async () => {
  const r = await cruise(['lib'], {
    validate: true,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.(md|html)$' },
    ruleSet: {
      forbidden: [
        { name: 'no-cycle', severity: 'error', from: {}, to: { circular: true } },
        {
          name: 'core-without-aws-sdk',
          severity: 'error',
          from: { path: '^lib/(protocol|task|canvas|results|signals|routing|runtime|ports)/' },
          to: { path: '@aws-sdk/' },
        },
        {
          name: 'core-below-adapters-and-local',
          severity: 'error',
          from: { path: '^lib/(protocol|canvas|results|signals|routing|ports|task)/' },
          to: { path: '^lib/(adapters|local|cli|runtime)/' },
        },
        {
          // lib/app.ts composes the core with the runtime (createApp, App): it sits above both,
          // and only the entry points, local mode and the CLI build on it.
          name: 'composition-root-on-top',
          severity: 'error',
          from: { path: '^lib/(protocol|canvas|results|signals|routing|ports|task|runtime|adapters)/' },
          to: { path: '^lib/app\\.ts$' },
        },
        {
          name: 'aws-adapter-without-memory-adapter',
          severity: 'error',
          from: { path: '^lib/adapters/aws/' },
          to: { path: '^lib/adapters/memory/' },
        },
        {
          name: 'memory-adapter-without-aws-adapter',
          severity: 'error',
          from: { path: '^lib/adapters/memory/' },
          to: { path: '^lib/adapters/aws/' },
        },
      ],
    },
  });
  result = r.output as ICruiseResult;
}, 120_000);

/** The violations of one rule, as `from → to (dependency types)`. */
function violations(rule: string): string[] {
  return result.summary.violations
    .filter((v) => v.rule.name === rule)
    .map((v) => `${v.from} → ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => (typeof c === 'string' ? c : c.name)).join(' → ')})` : ''}`);
}

describe('lib/ import graph', () => {
  it('reads the whole library, type-only imports included', () => {
    const modules = result.modules.filter((m) => m.source.startsWith('lib/'));
    expect(modules.length).toBeGreaterThan(60);
    const typeOnly = modules.flatMap((m) => m.dependencies).filter((d) => d.dependencyTypes.includes('type-only'));
    expect(typeOnly.length).toBeGreaterThan(10);
  });

  it('has no import cycle of any kind', () => {
    expect(violations('no-cycle')).toEqual([]);
  });

  it('keeps the AWS SDK out of the core', () => {
    expect(violations('core-without-aws-sdk')).toEqual([]);
  });

  it('keeps the pure core below the runtime, the adapters, local mode and the CLI', () => {
    expect(violations('core-below-adapters-and-local')).toEqual([]);
  });

  it('keeps the app (the composition root) above the core, the runtime and the adapters', () => {
    expect(violations('composition-root-on-top')).toEqual([]);
  });

  it('keeps the AWS and memory adapters apart (the system clock and ids belong to neither)', () => {
    expect([...violations('aws-adapter-without-memory-adapter'), ...violations('memory-adapter-without-aws-adapter')]).toEqual([]);
  });
});
