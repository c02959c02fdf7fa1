import { AsyncLocalStorage } from 'node:async_hooks';

/** The Lambda invocation a piece of work runs in: what every log line inside it names. */
export interface InvocationFacts {
  /** The Lambda request id (`context.awsRequestId`), when the handler was given one. */
  readonly requestId: string | undefined;
  /** True for the first invocation this handler instance serves (module loaded for it). */
  readonly coldStart: boolean;
}

const storage = new AsyncLocalStorage<InvocationFacts>();

/** Runs `fn` inside invocation `facts`: the task logger reads them from here. */
export function runInInvocation<T>(facts: InvocationFacts, fn: () => T): T {
  return storage.run(facts, fn);
}

/** The invocation running now, or undefined outside one (a producer, local tools). */
export function currentInvocation(): InvocationFacts | undefined {
  return storage.getStore();
}
