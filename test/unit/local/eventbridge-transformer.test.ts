import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InputTransformer } from '../../../lib/local/eventbridge';
import { InvalidInputTransformerError, renderInputTransformer, validateInputTransformer } from '../../../lib/local/eventbridge';

// The example event of the user guide page "Amazon EventBridge input transformation".
const ec2Event = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-0123456789', state: 'RUNNING' },
};

// The Input Path of that page.
const inputPathsMap = { timestamp: '$.time', instance: '$.detail.instance-id', state: '$.detail.state' };

function render(inputTemplate: string, event: unknown = ec2Event, paths: Record<string, string> = inputPathsMap): string {
  return renderInputTransformer({ inputPathsMap: paths, inputTemplate }, event, { ruleName: 'example' });
}

/** Like render, with quoted placeholders JSON-escaped (the opt-in that AWS does not do). */
function renderEscaped(inputTemplate: string, event: unknown, paths: Record<string, string>): string {
  return renderInputTransformer({ inputPathsMap: paths, inputTemplate }, event, { ruleName: 'example' }, { escapeQuotedValues: true });
}

/** The reason PutTargets would give for refusing `transformer`, or undefined when it is valid. */
function refusal(transformer: InputTransformer): string | undefined {
  try {
    validateInputTransformer(transformer, { targetId: 'target-1' });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputTransformerError);
    return (error as Error).message;
  }
}

describe('the examples of the user guide page "Amazon EventBridge input transformation"', () => {
  it('Simple string', () => {
    expect(render('"instance <instance> is in <state>"')).toBe('"instance i-0123456789 is in RUNNING"');
  });

  it('String with escaped quotes', () => {
    expect(render('"instance \\"<instance>\\" is in <state>"')).toBe('"instance \\"i-0123456789\\" is in RUNNING"');
  });

  it('Simple JSON: unquoted string variables get their quotes', () => {
    const out = render('{\n  "instance" : <instance>,\n  "state": <state>\n}');
    expect(JSON.parse(out)).toEqual({ instance: 'i-0123456789', state: 'RUNNING' });
  });

  it('JSON with strings and variables', () => {
    const out = render(
      '{\n "instance" : <instance>,\n "state": "<state>",\n "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}',
    );
    expect(JSON.parse(out)).toEqual({
      instance: 'i-0123456789',
      state: 'RUNNING',
      instanceStatus: 'instance "i-0123456789" is in RUNNING',
    });
  });

  it('JSON with a mix of variables and static information', () => {
    const out = render('{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}\n');
    expect(JSON.parse(out)).toEqual({ instance: 'i-0123456789', state: [9, 'RUNNING', true], Transformed: 'Yes' });
  });

  it('Including reserved variables in JSON', () => {
    const out = renderInputTransformer(
      {
        inputPathsMap,
        inputTemplate:
          '{\n  "instance" : <instance>,\n  "state": <state>,\n  "ruleArn" : <aws.events.rule-arn>,\n  "ruleName" : <aws.events.rule-name>,\n  "originalEvent" : <aws.events.event.json>\n}',
      },
      ec2Event,
      { ruleName: 'example', ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example' },
    );
    expect(JSON.parse(out)).toEqual({
      instance: 'i-0123456789',
      state: 'RUNNING',
      ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example',
      ruleName: 'example',
      originalEvent: ec2Event,
    });
  });

  it('Including reserved variables in a string', () => {
    expect(render('"<aws.events.rule-name> triggered"')).toBe('"example triggered"');
  });

  it('Amazon CloudWatch log group: an unquoted timestamp and a quoted message', () => {
    const out = render('{\n  "timestamp" : <timestamp>,\n  "message": "instance \\"<instance>\\" is in <state>"\n}');
    expect(JSON.parse(out)).toEqual({ timestamp: '2015-11-11T21:29:54Z', message: 'instance "i-0123456789" is in RUNNING' });
  });

  it('passes JSON minified, as "Common issues" says', () => {
    expect(render('{\n  "instance" : <instance>,\n  "state": <state>\n}')).toBe('{"instance":"i-0123456789","state":"RUNNING"}');
  });

  it('the predefined variables: rule ARN and name, ingestion time, the event', () => {
    const out = renderInputTransformer(
      {
        inputTemplate:
          '{"arn": <aws.events.rule-arn>, "name": <aws.events.rule-name>, "at": <aws.events.event.ingestion-time>, "e": <aws.events.event>, "json": <aws.events.event.json>}',
      },
      ec2Event,
      { ruleName: 'example', eventBusName: 'orders', ingestionTime: '2015-11-11T21:29:55Z' },
    );
    const { detail: _detail, 'detail-type': detailType, ...envelope } = ec2Event;
    expect(JSON.parse(out)).toEqual({
      arn: 'arn:aws:events:us-east-1:123456789012:rule/orders/example',
      name: 'example',
      at: '2015-11-11T21:29:55Z',
      // aws.events.event: the original event without its detail (recorded AWS output names detail-type "detailType").
      e: { ...envelope, detailType },
      json: ec2Event,
    });
  });

  it('builds the default bus rule ARN without a bus segment, and takes the ingestion time from the event', () => {
    const out = renderInputTransformer({ inputTemplate: '"<aws.events.rule-arn> <aws.events.event.ingestion-time>"' }, ec2Event, {
      ruleName: 'r',
    });
    expect(out).toBe('"arn:aws:events:us-east-1:123456789012:rule/r 2015-11-11T21:29:54Z"');
  });

  it('a JSON object referenced inside a string loses its inner quotes', () => {
    expect(render('{"text": "Detail is <detail>"}', ec2Event, { detail: '$.detail' })).toBe(
      '{"text":"Detail is {instance-id:i-0123456789,state:RUNNING}"}',
    );
    expect(render('{"text": "Resources: <r>"}', ec2Event, { r: '$.resources' })).toBe(
      '{"text":"Resources: [arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111]"}',
    );
  });

  it('a JSON object placed as a value stays an object', () => {
    expect(JSON.parse(render('{"detail": <detail>}', ec2Event, { detail: '$.detail' }))).toEqual({ detail: ec2Event.detail });
  });
});

describe('the examples of the API reference for InputTransformer', () => {
  const paths = { instance: '$.detail.instance', status: '$.detail.status' };
  const event = { detail: { instance: 'i-1', status: 'running' } };

  it('a plain-text template', () => {
    expect(render('<instance> is in state <status>', event, paths)).toBe('i-1 is in state running');
  });

  it('a plain-text template with escaped quotes', () => {
    expect(render('<instance> is in state "<status>"', event, paths)).toBe('i-1 is in state "running"');
  });

  it('a JSON template with variables in quotes or out', () => {
    const out = render('{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<status>\\""}', event, paths);
    expect(JSON.parse(out)).toEqual({ myInstance: 'i-1', myStatus: 'i-1 is in state "running"' });
  });
});

describe('behaviour recorded against AWS (localstack tests/aws/services/events/test_events_inputs.snapshot.json)', () => {
  const paths = { 'detail-type': '$.detail-type', timestamp: '$.time', command: '$.detail.notinmessage' };

  it('a missing path leaves nothing inside a string', () => {
    expect(render('"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>"', ec2Event, paths)).toBe(
      '"Event of EC2 Instance State-change Notification type, at time 2015-11-11T21:29:54Z, info extracted from detail "',
    );
  });

  it('a missing path stands as "" where an unquoted value was expected', () => {
    const out = render('{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}', ec2Event, paths);
    expect(JSON.parse(out)).toEqual({ detailType: 'EC2 Instance State-change Notification', time: '2015-11-11T21:29:54Z', command: '' });
  });

  it('a string template may start with JSON-looking characters', () => {
    expect(render('"{[/Check with special starting characters for event of <detail-type> type"', ec2Event, paths)).toBe(
      '"{[/Check with special starting characters for event of EC2 Instance State-change Notification type"',
    );
  });

  it('a placeholder with no variable is refused with PutTargets’ message', () => {
    expect(refusal({ inputPathsMap: paths, inputTemplate: '"Event of <detail-type> type, with not defined key <notdefinedkey>"' })).toBe(
      'InputTemplate for target target-1 contains invalid placeholder notdefinedkey.',
    );
  });
});

describe('values', () => {
  const event = {
    detail: {
      quote: 'say "hi"',
      backslash: 'C:\\temp\\new',
      newline: 'line 1\nline 2\ttabbed\r',
      control: '\u0000\u001f',
      unicode: 'café 🚀 \u2028 日本',
      number: 42.5,
      zero: 0,
      yes: true,
      nothing: null,
      empty: '',
      list: ['a', 'b', { c: 1 }],
      nested: { deep: { value: 'x' } },
    },
  };
  const paths = Object.fromEntries(Object.keys(event.detail).map((k) => [k, `$.detail.${k}`]));

  it.each(['quote', 'backslash', 'newline', 'control', 'unicode', 'empty'] as const)(
    'with escapeQuotedValues, a %s string survives quoted and unquoted placeholders',
    (name) => {
      const out = renderEscaped(`{"quoted": "<${name}>", "bare": <${name}>, "inside": "[<${name}>]"}`, event, paths);
      const value = event.detail[name];
      expect(JSON.parse(out)).toEqual({ quoted: value, bare: value, inside: `[${value}]` });
    },
  );

  it('numbers, booleans and null are JSON values unquoted, and their JSON text inside strings', () => {
    const out = render('{"n": <number>, "z": <zero>, "y": <yes>, "x": <nothing>, "s": "<number>/<yes>/<nothing>"}', event, paths);
    expect(JSON.parse(out)).toEqual({ n: 42.5, z: 0, y: true, x: null, s: '42.5/true/null' });
  });

  it('arrays and objects are JSON values unquoted', () => {
    const out = render('{"list": <list>, "nested": <nested>}', event, paths);
    expect(JSON.parse(out)).toEqual({ list: event.detail.list, nested: event.detail.nested });
  });

  it('a whole-template placeholder renders the value as JSON', () => {
    expect(render('<nested>', event, paths)).toBe('{"deep":{"value":"x"}}');
    expect(render('<quote>', event, paths)).toBe('"say \\"hi\\""');
    expect(render('<number>', event, paths)).toBe('42.5');
  });

  it('plain-text templates insert values as text, unescaped', () => {
    expect(render('Got <quote> and <newline> and <nested>', event, paths)).toBe(
      'Got say "hi" and line 1\nline 2\ttabbed\r and {deep:{value:x}}',
    );
  });

  it('inserts quoted values unescaped by default, as the user guide says AWS does', () => {
    const out = renderInputTransformer({ inputPathsMap: paths, inputTemplate: '{"m": "<quote>"}' }, event);
    expect(out).toBe('{"m": "say "hi""}');
    expect(() => JSON.parse(out)).toThrow(SyntaxError);
  });

  it.each(['unicode', 'empty'] as const)('by default, a %s string (nothing to escape) survives a quoted placeholder', (name) => {
    const out = render(`{"quoted": "<${name}>", "bare": <${name}>}`, event, paths);
    expect(JSON.parse(out)).toEqual({ quoted: event.detail[name], bare: event.detail[name] });
  });

  it('reaches array elements, the whole event, and wildcards', () => {
    const out = render('{"first": <first>, "deep": <deep>, "all": <all>, "each": <each>, "nope": <nope>}', event, {
      first: '$.detail.list[0]',
      deep: '$.detail.list[2].c',
      all: '$',
      each: '$.detail.list[*]',
      nope: '$.detail.list[9]',
    });
    expect(JSON.parse(out)).toEqual({ first: 'a', deep: 1, all: event, each: event.detail.list, nope: '' });
  });

  it('keys with dashes and slashes', () => {
    const out = render('"<a> <b>"', { detail: { 'x-y': 'dash', 'a/b': 'slash' } }, { a: '$.detail.x-y', b: '$.detail.a/b' });
    expect(out).toBe('"dash slash"');
  });

  it('a "<" that opens no placeholder is text', () => {
    expect(render('"1 < 2, <state>"')).toBe('"1 < 2, RUNNING"');
  });

  it('accepts the event as JSON text', () => {
    expect(render('"<state>"', JSON.stringify(ec2Event))).toBe('"RUNNING"');
  });
});

describe('validateInputTransformer refuses what PutTargets refuses', () => {
  it('more than 100 variables', () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, '$.detail']));
    expect(refusal({ inputPathsMap: many, inputTemplate: '"x"' })).toBe(
      'InputPathsMap for target target-1 has 101 entries; at most 100 are allowed.',
    );
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`v${i}`, '$.detail']));
    expect(refusal({ inputPathsMap: hundred, inputTemplate: '"x"' })).toBeUndefined();
  });

  it.each([['with space'], ['dot.ted'], ['aws.events.rule-name'], ['é'], ['x'.repeat(257)]])('a variable named %j', (name) => {
    expect(refusal({ inputPathsMap: { [name]: '$.detail' }, inputTemplate: '"x"' })).toMatch(
      /^InputPathsMap key ".*" for target target-1 is invalid: keys must match/,
    );
  });

  it('a variable named with the reserved AWS prefix', () => {
    expect(refusal({ inputPathsMap: { AWSRegion: '$.region' }, inputTemplate: '"x"' })).toBe(
      'InputPathsMap key "AWSRegion" for target target-1 is invalid: keys can\'t start with "AWS".',
    );
  });

  it.each([
    ['detail.state', 'it must start with "$"'],
    ["$['detail']", 'only array indices ([0]) and [*] may follow "[" (position 1); use dot notation for fields'],
    ['$.detail..state', 'expected a field name at position 9'],
    ['$detail', 'unexpected "d" at position 1'],
  ])('a path %j that is not a JSON path', (path, reason) => {
    expect(refusal({ inputPathsMap: { v: path }, inputTemplate: '"<v>"' })).toBe(
      `InputPathsMap value for key "v" of target target-1 is not a valid JSON path: ${reason}`,
    );
  });

  it('a path longer than 256 characters', () => {
    expect(refusal({ inputPathsMap: { v: `$.${'a'.repeat(255)}` }, inputTemplate: '"<v>"' })).toMatch(/at most 256 characters/);
  });

  it('an empty template, or one longer than 8192 characters', () => {
    expect(refusal({ inputTemplate: '' })).toBe('InputTemplate for target target-1 must be a non-empty string.');
    expect(refusal({ inputTemplate: `"${'x'.repeat(8191)}"` })).toBe(
      'InputTemplate for target target-1 is 8193 characters long; at most 8192 are allowed.',
    );
  });

  it('a placeholder used as an object key', () => {
    const expected = 'InputTemplate for target target-1 uses placeholder state as an object key, which is not allowed.';
    expect(refusal({ inputPathsMap, inputTemplate: '{"<state>": 1}' })).toBe(expected);
    expect(refusal({ inputPathsMap, inputTemplate: '{<state> : 1}' })).toBe(expected);
    expect(refusal({ inputPathsMap, inputTemplate: '{"a": "<state>:"}' })).toBeUndefined();
  });

  it('an undefined placeholder inside any template', () => {
    expect(refusal({ inputPathsMap, inputTemplate: '{"a": "<State>"}' })).toBe(
      'InputTemplate for target target-1 contains invalid placeholder State.',
    );
    expect(refusal({ inputTemplate: '<aws.events.rule>' })).toBe(
      'InputTemplate for target target-1 contains invalid placeholder aws.events.rule.',
    );
  });

  it('renderInputTransformer validates first', () => {
    expect(() => render('"<nope>"')).toThrow(InvalidInputTransformerError);
  });

  it('needs no InputPathsMap for constant templates and predefined variables', () => {
    expect(refusal({ inputTemplate: '{"constant": true, "rule": <aws.events.rule-name>}' })).toBeUndefined();
  });
});

describe('properties', () => {
  it('with escapeQuotedValues, any string value reaches the target intact, through a quoted or an unquoted placeholder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const event = { detail: { v: value } };
        const out = renderEscaped('{"quoted": "<v>", "bare": <v>}', event, { v: '$.detail.v' });
        expect(JSON.parse(out)).toEqual({ quoted: value, bare: value });
      }),
    );
  });

  it('any JSON value placed unquoted comes back equal', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const event = { detail: { v: value } };
        const out = render('{"v": <v>}', event, { v: '$.detail.v' });
        expect(JSON.parse(out)).toEqual({ v: JSON.parse(JSON.stringify(value)) });
      }),
    );
  });
});
