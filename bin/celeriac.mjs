#!/usr/bin/env node
// The `celeriac` command. Plain JavaScript that any Node parses, so that an unsupported Node gets
// one line naming the version needed (package.json engines) rather than a stack trace.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const { engines } = createRequire(import.meta.url)('../package.json');
const needed = engines.node.replace(/^>=\s*/, '');
const [major, minor] = process.versions.node.split('.').map(Number);
const [needMajor, needMinor] = needed.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`celeriac: needs Node.js >= ${needed}; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}

// An installed package runs its compiled CLI (dist/). A checkout of the repository has the
// sources and may have no build: run them under tsx, a dependency (it also loads users' TS apps).
const sources = new URL('../lib/cli/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import('../dist/cli.js');
}
