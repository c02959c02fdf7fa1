/** Starts the default (emulated) local mode and prints how it fails, as JSON: run on a too-old Node. */
import { isCeleriacError } from 'celeriac';
import { startLocal } from 'celeriac/local';
import { app } from './app.js';

try {
  const local = await startLocal(app);
  await local.stop();
  console.log(JSON.stringify({ started: true }));
} catch (e) {
  console.log(
    JSON.stringify({
      celeriacError: isCeleriacError(e),
      code: isCeleriacError(e) ? e.code : undefined,
      message: String((e as Error).message),
    }),
  );
}
