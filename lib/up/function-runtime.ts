/**
 * The bootstrap each local Lambda execution environment runs (a worker thread, eval'd from this
 * text so it needs no file of its own in the package): it imports the bundle's handler module once
 * (the init phase; a failure there is `Runtime.ImportModuleError`, as on Lambda), then answers
 * invocations one at a time with a Lambda-shaped context. Results and errors go back as JSON, as
 * the Lambda runtime serializes them.
 */
export const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
if (workerData.sourceMaps) process.setSourceMapsEnabled(true);
let loaded;
function load() {
  loaded ??= import(pathToFileURL(workerData.entry).href).then(
    (mod) => {
      const fn = mod[workerData.exportName];
      if (typeof fn !== 'function') {
        const e = new Error(workerData.handler + ' is undefined or not exported');
        e.name = 'Runtime.HandlerNotFound';
        throw e;
      }
      return fn;
    },
    (cause) => {
      const e = new Error(String(cause && cause.message || cause));
      e.name = cause && cause.name === 'SyntaxError' ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError';
      e.stack = cause && cause.stack;
      throw e;
    },
  );
  return loaded;
}
function wire(e) {
  return {
    errorType: (e && e.name) || 'Error',
    errorMessage: (e && e.message) || String(e),
    trace: String((e && e.stack) || '').split('\\n'),
  };
}
parentPort.on('message', async (m) => {
  const context = {
    functionName: workerData.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: workerData.functionArn,
    memoryLimitInMB: String(workerData.memoryMb),
    awsRequestId: m.requestId,
    logGroupName: workerData.logGroupName,
    logStreamName: workerData.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
  };
  try {
    const fn = await load();
    const result = await fn(m.event, context);
    parentPort.postMessage({ id: m.id, ok: true, result: result === undefined ? undefined : JSON.stringify(result) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: wire(e) });
  }
});
`;
