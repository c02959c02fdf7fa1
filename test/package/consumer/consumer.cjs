// A CommonJS consumer (what `cdk init` gives): require(esm) of the ESM-only package, Node >= 22.12.
const { createApp, chain } = require('celeriac');
const { startLocal } = require('celeriac/local');

const app = createApp({ name: 'cjs' });
const inc = app.task('cjs-inc', (n) => n + 1);

(async () => {
  const local = await startLocal(app, { mode: 'memory' });
  try {
    const r = await chain(inc.s(1), inc.s(), inc.s()).applyAsync();
    console.log(JSON.stringify({ chain: await r.get({ timeoutMs: 10_000 }) }));
  } finally {
    await local.stop();
  }
})();
