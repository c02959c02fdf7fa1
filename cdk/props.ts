/**
 * How the constructs of celeriac/cdk combine props, as AWS Solutions Constructs do: the
 * construct's defaults, then what the user passed over them, then the settings the construct
 * requires, which always win (each construct documents its required settings).
 *
 * The merge is shallow: a user prop replaces the default whole (a VPC, a key, a list of layers).
 * The one map merged key by key is `environment`, where the user's variables join the
 * construct's and the construct's keys win.
 */
export function consolidateProps<T extends object>(defaults: Partial<T>, user: Partial<T> | undefined, required: Partial<T>): T {
  const merged: Record<string, unknown> = { ...defaults, ...withoutUndefined(user ?? {}), ...required };
  const envs = [defaults, user, required].map((p) => (p as { environment?: Record<string, string> } | undefined)?.environment);
  if (envs.some((e) => e !== undefined)) merged.environment = Object.assign({}, ...envs);
  return merged as T;
}

/** `{ a: undefined }` sets nothing: an explicit undefined does not erase a default. */
function withoutUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
