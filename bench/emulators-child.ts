/**
 * The emulators of emulated local mode (dynalite, fauxqs, the PutEvents capture endpoint) in a
 * process of their own, for bench/emulated-split.ts. Prints one JSON line with the endpoints, then
 * serves until SIGTERM.
 */
import { startDynalite, startEventBridgeEndpoint, startFauxqs } from '../lib/local/index';

const [dynamo, sqs, eb] = await Promise.all([startDynalite(), startFauxqs(), startEventBridgeEndpoint()]);
process.stdout.write(`${JSON.stringify({ dynamodb: dynamo.endpoint, sqs: sqs.endpoint, eventbridge: eb.endpoint })}\n`);
process.on('SIGTERM', () => {
  void Promise.all([dynamo.stop(), sqs.stop(), eb.stop()]).finally(() => process.exit(0));
});
