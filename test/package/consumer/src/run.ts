/**
 * Runs the app in local mode (`node dist/src/run.js memory|emulated`) and prints one JSON line:
 * a chain, a chord, the static link's target and a large value by reference, as the user's
 * compiled code sees them.
 */
import { chain, chord, group } from 'celeriac';
import { startLocal } from 'celeriac/local';
import { announce, app, measure, pad, plus, total } from './app.js';
import { handler as audit, seen } from './subscriber.js';

const mode = process.argv[2] === 'emulated' ? 'emulated' : 'memory';
const local = await startLocal(app, { mode, subscribers: { 'consumer-audit': audit } });
try {
  const chained = await chain(plus.s(1, 2), plus.s(3)).applyAsync();
  const chorded = await chord(group(plus.s(1, 1), plus.s(2, 2)), total.s()).applyAsync();
  const large = await chain(pad.s(200_000), measure.s()).applyAsync();
  const results = {
    mode: local.mode,
    chain: await chained.get({ timeoutMs: 20_000 }),
    chord: await chorded.get({ timeoutMs: 20_000 }),
    large: await large.get({ timeoutMs: 20_000 }),
    // The padded string's record holds a reference, not the 200 KB.
    byReference: JSON.stringify((await app.asyncResult(String(large.parent?.id)).record())?.result).startsWith('{"$payload":'),
  };
  await local.drain();
  const linked = local.events.find((e) => e.detail.task === announce.name && e.detail.state === 'SUCCESS');
  const audited = seen.filter((e) => e.task === total.name).length;
  console.log(JSON.stringify({ ...results, link: linked?.detail.result, audited }));
} finally {
  await local.stop();
}
