/** `celeriac/cdk`: the construct library — {@link TaskRunner} and {@link CeleriacStack}, with their props. */
export * from './stack';
export * from './task-runner';
