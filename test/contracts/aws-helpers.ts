/** Shared wiring for the AWS halves of the contract tests. */
import { type CeleriacConfig, loadConfig } from '../../lib/config';
import { EMULATOR_CLIENT_CONFIG } from '../../lib/local/emulators';

/** A config as the CDK stack would set it, for the given table and bus. */
export function testConfig(env: Record<string, string> = {}): CeleriacConfig {
  return loadConfig({
    CELERIAC_APP: 'shop',
    CELERIAC_TABLE: 'celeriac-test',
    CELERIAC_BUS: 'celeriac-bus',
    AWS_REGION: 'us-east-1',
    ...env,
  });
}

/** Client settings every emulator accepts; few SDK attempts so failure tests stay fast. */
export const clientConfig = { ...EMULATOR_CLIENT_CONFIG, maxAttempts: 2 };

/** Fast backoff for tests: the policy is under test, not the wall clock. */
export const fastRetry = { attempts: 4, baseMs: 1, capMs: 5 };

/** Records the command names a client sends (SDK middleware), to assert on request counts. */
export function countCommands(client: {
  middlewareStack: { add: (mw: never, opts: { step: 'initialize'; name: string }) => void };
}): string[] {
  const calls: string[] = [];
  const mw = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    calls.push(context.commandName ?? '?');
    return next(args);
  };
  client.middlewareStack.add(mw as never, { step: 'initialize', name: `countCommands${Math.random()}` });
  return calls;
}

/** A stand-in client whose `send` answers each command from `handler`, recording them. */
export function stubClient<C>(
  handler: (command: { constructor: { name: string }; input: Record<string, unknown> }, call: number) => unknown,
): {
  client: C;
  calls: { name: string; input: Record<string, unknown> }[];
} {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      calls.push({ name: command.constructor.name, input: command.input });
      return handler(command, calls.length);
    },
    destroy: () => {},
  } as unknown as C;
  return { client, calls };
}

/** An SDK-shaped service error. */
export function sdkError(name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client'): Error {
  return Object.assign(new Error(`${name} (injected)`), { name, $fault: fault, $metadata: { httpStatusCode: status } });
}
