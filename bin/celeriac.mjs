#!/usr/bin/env node
// The `celeriac` command. The CLI is TypeScript (no build step): register tsx's loader in this
// process, then import the entry. tsx is resolved from this package, not from the caller's cwd,
// so `npx celeriac` works from any directory of a project that installed celeriac.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../lib/cli/main.ts', import.meta.url).href);
