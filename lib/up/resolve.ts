/**
 * Resolving a template's intrinsic functions to the local resources: Ref, Fn::GetAtt, Fn::Join,
 * Fn::Sub, Fn::Select, Fn::Split, Fn::If and conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or,
 * Condition), Fn::FindInMap, Fn::GetAZs, pseudo parameters and AWS::NoValue.
 *
 * Written here rather than taken from cfn-resolver-lib, the one kept CloudFormation evaluator on
 * npm: that library rewrites plain data — any one-key object whose value is an array, such as the
 * event pattern `{ "detail": { "task": ["report"] } }`, comes out as `["report"]` — and leaves an
 * unknown Ref in place as the logical id's text. {@link checkIntrinsics} first refuses, naming the
 * resource, any intrinsic not listed above and any Ref or GetAtt `up` has no value for, so what
 * is resolved is resolved completely.
 */
import type { CfnTemplate } from './template';
import { TemplateError } from './template';

/** What Ref and Fn::GetAtt resolve to, by logical id; plus pseudo parameters and parameters under `refs`. */
export interface ResolvedIds {
  readonly refs: Readonly<Record<string, string>>;
  readonly attributes: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const SUPPORTED = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::FindInMap',
  'Fn::GetAZs',
  'Condition',
]);

/** Marks a value `Ref: AWS::NoValue` removes. */
const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves every resource's properties and every output; resources and outputs whose condition is
 * false are left out, as CloudFormation leaves them out. Throws a {@link TemplateError} naming the
 * first resource (or output) holding an intrinsic it cannot resolve.
 */
export function resolveTemplate(template: CfnTemplate, ids: ResolvedIds): CfnTemplate {
  checkIntrinsics(template, ids);
  const conditions = new Map<string, boolean>();
  const condition = (name: string, owner: string): boolean => {
    const known = conditions.get(name);
    if (known !== undefined) return known;
    const def = template.Conditions?.[name];
    if (def === undefined) throw new TemplateError(owner, `condition ${name} is not defined`);
    const v = Boolean(evaluate(def, owner));
    conditions.set(name, v);
    return v;
  };
  const mappings = (template as { Mappings?: Record<string, Record<string, Record<string, unknown>>> }).Mappings ?? {};
  const evaluate = (node: unknown, owner: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => evaluate(n, owner)).filter((n) => n !== NO_VALUE);
    if (typeof node !== 'object' || node === null) return node;
    const keys = Object.keys(node);
    const fn = keys[0] as string;
    const arg = (node as Record<string, unknown>)[fn];
    if (keys.length === 1 && SUPPORTED.has(fn)) {
      const str = (v: unknown): string => String(evaluate(v, owner));
      switch (fn) {
        case 'Ref':
          return arg === 'AWS::NoValue' ? NO_VALUE : ids.refs[String(arg)];
        case 'Fn::GetAtt': {
          const [target, attr] = Array.isArray(arg) ? arg.map(str) : String(arg).split('.');
          return ids.attributes[target as string]?.[attr as string];
        }
        case 'Fn::Join': {
          const [sep, list] = arg as [string, unknown];
          return (evaluate(list, owner) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [arg as string, {}];
          const local = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, str(v)]));
          return text.replace(/\$\{([^}]*)\}/g, (whole, ref: string) => {
            if (ref.startsWith('!')) return `\${${ref.slice(1)}}`;
            if (local[ref] !== undefined) return local[ref];
            const [target, attr] = ref.split('.');
            return (attr === undefined ? ids.refs[target as string] : ids.attributes[target as string]?.[attr]) ?? whole;
          });
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          return (evaluate(list, owner) as unknown[])[Number(evaluate(index, owner))];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return str(text).split(sep);
        }
        case 'Fn::If': {
          const [name, yes, no] = arg as [string, unknown, unknown];
          return evaluate(condition(name, owner) ? yes : no, owner);
        }
        case 'Fn::Equals': {
          const [a, b] = (arg as unknown[]).map((v) => evaluate(v, owner));
          return JSON.stringify(a) === JSON.stringify(b);
        }
        case 'Fn::Not':
          return !evaluate((arg as unknown[])[0], owner);
        case 'Fn::And':
          return (arg as unknown[]).every((v) => evaluate(v, owner));
        case 'Fn::Or':
          return (arg as unknown[]).some((v) => evaluate(v, owner));
        case 'Condition':
          return condition(String(arg), owner);
        case 'Fn::FindInMap': {
          const [m, k1, k2] = (arg as unknown[]).map(str);
          return mappings[m as string]?.[k1 as string]?.[k2 as string];
        }
        case 'Fn::GetAZs': {
          const region = ids.refs['AWS::Region'];
          return ['a', 'b', 'c'].map((z) => `${region}${z}`);
        }
      }
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = evaluate((node as Record<string, unknown>)[k], owner);
      if (v !== NO_VALUE) out[k] = v;
    }
    return out;
  };
  const Resources: Record<string, CfnTemplate['Resources'][string]> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Condition !== undefined && !condition(r.Condition, id)) continue;
    Resources[id] = { ...r, ...(r.Properties === undefined ? {} : { Properties: evaluate(r.Properties, id) as Record<string, unknown> }) };
  }
  const Outputs: Record<string, { Value: unknown }> = {};
  for (const [name, o] of Object.entries(template.Outputs ?? {})) {
    const cond = (o as { Condition?: string }).Condition;
    if (cond !== undefined && !condition(cond, `output ${name}`)) continue;
    Outputs[name] = { Value: evaluate(o.Value, `output ${name}`) };
  }
  return { ...template, Resources, Outputs };
}

/** Refuses intrinsics the evaluator does not support and references `up` has no value for. */
export function checkIntrinsics(template: CfnTemplate, ids: ResolvedIds): void {
  for (const [id, r] of Object.entries(template.Resources)) walk(r.Properties, `resource ${id}`, id, ids);
  for (const [name, o] of Object.entries(template.Outputs ?? {})) walk(o.Value, `output ${name}`, `output ${name}`, ids);
}

function walk(node: unknown, where: string, owner: string, ids: ResolvedIds): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, where, owner, ids);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const keys = Object.keys(node);
  const value = (node as Record<string, unknown>)[keys[0] as string];
  if (keys.length === 1 && (keys[0] === 'Ref' || (keys[0] as string).startsWith('Fn::'))) {
    const fn = keys[0] as string;
    if (!SUPPORTED.has(fn))
      throw new TemplateError(owner, `${fn} is not supported by \`celeriac up\` (it resolves ${[...SUPPORTED].join(', ')})`);
    if (fn === 'Ref' && typeof value === 'string' && ids.refs[value] === undefined) {
      throw new TemplateError(owner, `Ref ${value} has no local value (not a resource, parameter or pseudo parameter of this stack)`);
    }
    if (fn === 'Fn::GetAtt') {
      const [target, attr] = Array.isArray(value) ? value : String(value).split('.');
      if (typeof target === 'string' && typeof attr === 'string' && ids.attributes[target]?.[attr] === undefined) {
        throw new TemplateError(owner, `Fn::GetAtt ${target}.${attr} is not an attribute \`celeriac up\` provides`);
      }
    }
    if (fn === 'Fn::Sub') {
      const text = Array.isArray(value) ? value[0] : value;
      const vars = Array.isArray(value) && typeof value[1] === 'object' && value[1] !== null ? Object.keys(value[1]) : [];
      for (const m of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
        const ref = m[1] as string;
        if (vars.includes(ref)) continue;
        const [target, attr] = ref.split('.');
        const known =
          attr === undefined ? ids.refs[target as string] !== undefined : ids.attributes[target as string]?.[attr] !== undefined;
        if (!known) throw new TemplateError(owner, `Fn::Sub \${${ref}} has no local value`);
      }
    }
  }
  for (const k of keys) walk((node as Record<string, unknown>)[k], where, owner, ids);
}
