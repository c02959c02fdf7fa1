import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, InvalidEventPatternError, matchesPattern, validatePattern } from '../../../lib/local/eventbridge';

/** The reason EventBridge would give for refusing `pattern`, or undefined when it is valid. */
function refusal(pattern: unknown): string | undefined {
  try {
    validatePattern(pattern);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventPatternError);
    return (error as InvalidEventPatternError).reason;
  }
}

const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

describe('event patterns, as in the user guide page "Amazon EventBridge event patterns"', () => {
  it('selects EC2 instance-termination events by source, detail-type and detail.state', () => {
    const pattern = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } };
    expect(matchesPattern(pattern, ec2Event)).toBe(true);
    expect(matchesPattern(pattern, { ...ec2Event, detail: { ...ec2Event.detail, state: 'running' } })).toBe(false);
  });

  it('matches any of the values listed for a field', () => {
    const pattern = { source: ['aws.ec2', 'aws.fargate'] };
    expect(matchesPattern(pattern, ec2Event)).toBe(true);
    expect(matchesPattern(pattern, { ...ec2Event, source: 'aws.fargate' })).toBe(true);
    expect(matchesPattern(pattern, { ...ec2Event, source: 'aws.s3' })).toBe(false);
  });

  it('matches a null field value with [null] (the Auto Scaling example)', () => {
    const event = {
      'detail-type': 'EC2 Instance Launch Successful',
      source: 'aws.autoscaling',
      resources: [],
      detail: { eventVersion: '', responseElements: null },
    };
    const pattern = {
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance Launch Successful'],
      detail: { responseElements: [null] },
    };
    expect(matchesPattern(pattern, event)).toBe(true);
  });

  it('matches numbers and nested fields (the Macie example)', () => {
    const event = {
      'detail-type': 'Macie Alert',
      source: 'aws.macie',
      detail: {
        'notification-type': 'ALERT_CREATED',
        tags: ['Custom_Alert', 'Insider'],
        'risk-score': 80,
        trigger: { 'alert-type': 'basic', risk: 8 },
      },
    };
    const pattern = { source: ['aws.macie'], 'detail-type': ['Macie Alert'], detail: { 'risk-score': [80], trigger: { risk: [8] } } };
    expect(matchesPattern(pattern, event)).toBe(true);
    expect(matchesPattern(pattern, { ...event, detail: { ...event.detail, 'risk-score': 79 } })).toBe(false);
  });

  it('requires every field the pattern names, with the same nesting', () => {
    expect(matchesPattern({ detail: { state: ['terminated'] } }, { ...ec2Event, detail: {} })).toBe(false);
    expect(matchesPattern({ state: ['terminated'] }, ec2Event)).toBe(false);
  });

  it('matches strings character by character, without case folding', () => {
    expect(matchesPattern({ source: ['AWS.EC2'] }, ec2Event)).toBe(false);
  });
});

describe('the user guide page "Event pattern syntax"', () => {
  it('joins field names with dots, so dotted keys and nesting are interchangeable in patterns and events', () => {
    const nestedPattern = { detail: { state: { status: ['running'] } } };
    const dottedPattern = { detail: { 'state.status': ['running'] } };
    const nestedEvent = { detail: { state: { status: 'running' } } };
    const dottedEvent = { detail: { 'state.status': 'running' } };
    for (const pattern of [nestedPattern, dottedPattern]) {
      expect(matchesPattern(pattern, nestedEvent)).toBe(true);
      expect(matchesPattern(pattern, dottedEvent)).toBe(true);
    }
  });

  it('keeps only the last of duplicate fields', () => {
    const pattern =
      '{"source": ["aws.s3"], "source": ["aws.sns"], "detail": {"eventSource": ["s3.amazonaws.com"], "eventSource": ["sns.amazonaws.com"]}}';
    expect(matchesPattern(pattern, { source: 'aws.sns', detail: { eventSource: 'sns.amazonaws.com' } })).toBe(true);
    expect(matchesPattern(pattern, { source: 'aws.s3', detail: { eventSource: 's3.amazonaws.com' } })).toBe(false);
  });
});

describe('the user guide page "Matching null values and empty strings in Amazon EventBridge event patterns"', () => {
  const event = { source: 'aws.autoscaling', resources: [], detail: { eventVersion: '', responseElements: null } };

  it('matches an empty string with [""] and null with [null]', () => {
    expect(matchesPattern({ detail: { eventVersion: [''] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { responseElements: [null] } }, event)).toBe(true);
  });

  it('does not treat null and the empty string as interchangeable', () => {
    expect(matchesPattern({ detail: { responseElements: [''] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { eventVersion: [null] } }, event)).toBe(false);
  });
});

describe('the user guide page "Arrays in Amazon EventBridge event patterns"', () => {
  it('matches an array field when the pattern values and the event array intersect', () => {
    const pattern = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    };
    const event = {
      resources: [
        'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      ],
    };
    expect(matchesPattern(pattern, event)).toBe(true);
    expect(matchesPattern(pattern, { resources: ['arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f'] })).toBe(false);
  });
});

describe('the user guide page "Content filtering in Amazon EventBridge event patterns"', () => {
  it('prefix matching: time starting with "2017-10-02"', () => {
    const pattern = { time: [{ prefix: '2017-10-02' }] };
    expect(matchesPattern(pattern, { time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matchesPattern(pattern, { time: '2017-10-03T18:43:48Z' })).toBe(false);
  });

  it('anything-but with a string and with a number', () => {
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'running' } })).toBe(true);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'initializing' } })).toBe(false);
    expect(matchesPattern({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 124 } })).toBe(true);
    expect(matchesPattern({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 123 } })).toBe(false);
  });

  it('anything-but with a list of strings and a list of numbers', () => {
    const strings = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
    expect(matchesPattern(strings, { detail: { state: 'running' } })).toBe(true);
    expect(matchesPattern(strings, { detail: { state: 'overloaded' } })).toBe(false);
    const numbers = { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } };
    expect(matchesPattern(numbers, { detail: { 'x-limit': 301.8 } })).toBe(true);
    expect(matchesPattern(numbers, { detail: { 'x-limit': 200 } })).toBe(false);
  });

  it('anything-but with a prefix: state not starting with "init"', () => {
    const pattern = { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } };
    expect(matchesPattern(pattern, { detail: { state: 'running' } })).toBe(true);
    expect(matchesPattern(pattern, { detail: { state: 'initializing' } })).toBe(false);
  });

  it('numeric matching: every numeric condition must hold', () => {
    const pattern = {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    };
    expect(matchesPattern(pattern, { detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 } })).toBe(true);
    expect(matchesPattern(pattern, { detail: { 'c-count': 0, 'd-count': 3, 'x-limit': 301.8 } })).toBe(false);
    expect(matchesPattern(pattern, { detail: { 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 } })).toBe(false);
    expect(matchesPattern(pattern, { detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.9 } })).toBe(false);
  });

  it('IP address matching: 10.0.0.0/24', () => {
    const pattern = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
    expect(matchesPattern(pattern, { detail: { sourceIPAddress: '10.0.0.24' } })).toBe(true);
    expect(matchesPattern(pattern, { detail: { sourceIPAddress: '10.0.0.255' } })).toBe(true);
    expect(matchesPattern(pattern, { detail: { sourceIPAddress: '10.0.1.1' } })).toBe(false);
  });

  it('exists: false matches an event without detail.c-count, and one where c-count is not a leaf', () => {
    const pattern = { detail: { 'c-count': [{ exists: false }] } };
    const without = {
      'detail-type': 'EC2 Instance State-change Notification',
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341'],
      detail: { state: ['initializing', 'running'] },
    };
    expect(matchesPattern(pattern, without)).toBe(true);
    expect(matchesPattern(pattern, { ...without, detail: { ...without.detail, 'c-count': { c1: 100 } } })).toBe(true);
    expect(matchesPattern(pattern, { ...without, detail: { ...without.detail, 'c-count': 3 } })).toBe(false);
  });

  it('combines several operators in one pattern', () => {
    const pattern = {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
      },
    };
    const event = { time: '2017-10-02T16:24:49Z', detail: { state: 'running', 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 } };
    expect(matchesPattern(pattern, event)).toBe(true);
    expect(matchesPattern(pattern, { ...event, detail: { ...event.detail, 'x-limit': 300 } })).toBe(false);
  });
});

describe('the user guide page "Comparison operators for use in event patterns in Amazon EventBridge"', () => {
  it('And: Location is "New York" and Day is "Monday"', () => {
    const pattern = { Location: ['New York'], Day: ['Monday'] };
    expect(matchesPattern(pattern, { Location: 'New York', Day: 'Monday' })).toBe(true);
    expect(matchesPattern(pattern, { Location: 'New York', Day: 'Tuesday' })).toBe(false);
  });

  it('Anything-but (begins with): Region is not in the US', () => {
    const pattern = { Region: [{ 'anything-but': { prefix: 'us-' } }] };
    expect(matchesPattern(pattern, { Region: 'eu-west-1' })).toBe(true);
    expect(matchesPattern(pattern, { Region: 'us-east-1' })).toBe(false);
  });

  it('Anything-but (ends with): FileName does not end with .png', () => {
    const pattern = { FileName: [{ 'anything-but': { suffix: '.png' } }] };
    expect(matchesPattern(pattern, { FileName: 'photo.jpg' })).toBe(true);
    expect(matchesPattern(pattern, { FileName: 'photo.png' })).toBe(false);
  });

  it('Anything-but (ignore case): state is anything but "initializing" in any casing', () => {
    const pattern = { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] };
    expect(matchesPattern(pattern, { state: 'running' })).toBe(true);
    expect(matchesPattern(pattern, { state: 'INITIALIZING' })).toBe(false);
    const list = { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] };
    expect(matchesPattern(list, { state: 'overloaded' })).toBe(false);
    expect(matchesPattern(list, { state: 'started' })).toBe(true);
  });

  it('Anything-but using a wildcard: FilePath does not include /lib/', () => {
    const pattern = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
    expect(matchesPattern(pattern, { FilePath: '/usr/bin/node' })).toBe(true);
    expect(matchesPattern(pattern, { FilePath: '/usr/lib/node' })).toBe(false);
  });

  it('Begins with, and begins with ignoring case', () => {
    expect(matchesPattern({ Region: [{ prefix: 'us-' }] }, { Region: 'us-east-1' })).toBe(true);
    expect(matchesPattern({ Region: [{ prefix: 'us-' }] }, { Region: 'eu-west-1' })).toBe(false);
    const pattern = { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] };
    expect(matchesPattern(pattern, { service: 'EventBridge' })).toBe(true);
    expect(matchesPattern(pattern, { service: 'EVENTBRIDGE' })).toBe(true);
    expect(matchesPattern(pattern, { service: 'Lambda' })).toBe(false);
  });

  it('Empty: LastName is empty', () => {
    expect(matchesPattern({ LastName: [''] }, { LastName: '' })).toBe(true);
    expect(matchesPattern({ LastName: [''] }, { LastName: 'Doe' })).toBe(false);
  });

  it('Equals, and equals ignoring case: Name is "Alice"', () => {
    expect(matchesPattern({ Name: ['Alice'] }, { Name: 'Alice' })).toBe(true);
    expect(matchesPattern({ Name: ['Alice'] }, { Name: 'alice' })).toBe(false);
    expect(matchesPattern({ Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'ALICE' })).toBe(true);
    expect(matchesPattern({ Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'Alicia' })).toBe(false);
  });

  it('Exists, and does not exist: ProductName', () => {
    expect(matchesPattern({ ProductName: [{ exists: true }] }, { ProductName: 'Widget' })).toBe(true);
    expect(matchesPattern({ ProductName: [{ exists: true }] }, { Price: 1 })).toBe(false);
    expect(matchesPattern({ ProductName: [{ exists: false }] }, { Price: 1 })).toBe(true);
    expect(matchesPattern({ ProductName: [{ exists: false }] }, { ProductName: 'Widget' })).toBe(false);
  });

  it('Not: Weather is anything but "Raining"', () => {
    expect(matchesPattern({ Weather: [{ 'anything-but': ['Raining'] }] }, { Weather: 'Sunny' })).toBe(true);
    expect(matchesPattern({ Weather: [{ 'anything-but': ['Raining'] }] }, { Weather: 'Raining' })).toBe(false);
  });

  it('Null: UserID is null', () => {
    expect(matchesPattern({ UserID: [null] }, { UserID: null })).toBe(true);
    expect(matchesPattern({ UserID: [null] }, { UserID: 'u-1' })).toBe(false);
  });

  it('Numeric (equals) and numeric (range): Price', () => {
    expect(matchesPattern({ Price: [{ numeric: ['=', 100] }] }, { Price: 100 })).toBe(true);
    expect(matchesPattern({ Price: [{ numeric: ['=', 100] }] }, { Price: 100.5 })).toBe(false);
    const range = { Price: [{ numeric: ['>', 10, '<=', 20] }] };
    expect([10, 10.5, 20, 20.5].map((Price) => matchesPattern(range, { Price }))).toEqual([false, true, true, false]);
  });

  it('Or: PaymentType is "Credit" or "Debit"; Location is "New York", or Day is "Monday"', () => {
    expect(matchesPattern({ PaymentType: ['Credit', 'Debit'] }, { PaymentType: 'Debit' })).toBe(true);
    expect(matchesPattern({ PaymentType: ['Credit', 'Debit'] }, { PaymentType: 'Cash' })).toBe(false);
    const either = { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] };
    expect(matchesPattern(either, { Location: 'Paris', Day: 'Monday' })).toBe(true);
    expect(matchesPattern(either, { Location: 'New York', Day: 'Sunday' })).toBe(true);
    expect(matchesPattern(either, { Location: 'Paris', Day: 'Sunday' })).toBe(false);
  });

  it('Wildcard: any file with a .png extension, located within the folder "dir"', () => {
    const pattern = { FileName: [{ wildcard: 'dir/*.png' }] };
    expect(matchesPattern(pattern, { FileName: 'dir/photo.png' })).toBe(true);
    expect(matchesPattern(pattern, { FileName: 'dir/sub/photo.png' })).toBe(true);
    expect(matchesPattern(pattern, { FileName: 'other/photo.png' })).toBe(false);
  });

  it('Ends with, and ends with ignoring case', () => {
    expect(matchesPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'photo.png' })).toBe(true);
    expect(matchesPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'photo.PNG' })).toBe(false);
    const pattern = { service: [{ suffix: { 'equals-ignore-case': 'tbridge' } }] };
    expect(matchesPattern(pattern, { service: 'EventBridge' })).toBe(true);
    expect(matchesPattern(pattern, { service: 'EVENTBRIDGE' })).toBe(true);
    expect(matchesPattern(pattern, { service: 'EventBus' })).toBe(false);
  });
});

describe('the aws/event-ruler README (the engine behind EventBridge)', () => {
  const event = {
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
    detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8, 'source-ip': '10.0.0.33', state: 'running' },
  };

  it('suffix, equals-ignore-case and wildcard matching', () => {
    expect(matchesPattern({ source: [{ suffix: 'ec2' }] }, event)).toBe(true);
    expect(matchesPattern({ source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, event)).toBe(true);
    expect(matchesPattern({ source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueService' })).toBe(true);
    expect(matchesPattern({ source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueServices' })).toBe(false);
  });

  it('the complex example, with a cidr condition', () => {
    const pattern = {
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
        'source-ip': [{ cidr: '10.0.0.0/8' }],
      },
    };
    expect(matchesPattern(pattern, event)).toBe(true);
  });

  it('$or: "source" && ("metricName" || "namespace")', () => {
    const pattern = {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    };
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', metricName: 'ReadLatency' })).toBe(true);
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', namespace: 'AWS/ES' })).toBe(true);
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', metricName: 'Other', namespace: 'Other' })).toBe(false);
    expect(matchesPattern(pattern, { source: 'aws.ec2', metricName: 'ReadLatency' })).toBe(false);
  });

  it('$or in parallel, at the top and inside detail', () => {
    const pattern = {
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    };
    expect(matchesPattern(pattern, { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } })).toBe(true);
    expect(matchesPattern(pattern, { namespace: 'AWS/EC2', detail: { source: 'aws.ec2' } })).toBe(false);
  });

  it('$or with an And inside, and nested $or', () => {
    const pattern = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    };
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 })).toBe(true);
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1 })).toBe(false);
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', namespace: 'AWS/EC2', metricId: 1234 })).toBe(false);
    expect(matchesPattern(pattern, { source: 'aws.cloudwatch', scope: 'Service' })).toBe(true);
  });

  it('matches into arrays of objects, but never across two elements of the same array', () => {
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(matchesPattern({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
  });

  it('crushes multi-level arrays out of the way', () => {
    const event = {
      employees: [
        [
          { firstName: 'John', lastName: 'Doe' },
          { firstName: 'Anna', lastName: 'Smith' },
        ],
        [{ firstName: 'Peter', lastName: 'Jones' }],
      ],
    };
    expect(matchesPattern({ employees: { firstName: ['Peter'], lastName: ['Jones'] } }, event)).toBe(true);
    expect(matchesPattern({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
  });
});

describe('numbers', () => {
  it('compare by value, whatever their JSON spelling (the engine adds numeric equality to exact numbers)', () => {
    expect(matchesPattern('{"x": [300]}', '{"x": 3.0e2}')).toBe(true);
    expect(matchesPattern('{"x": [3.0e2]}', '{"x": 300.0}')).toBe(true);
    expect(matchesPattern({ x: [{ 'anything-but': 300 }] }, '{"x": 3e2}')).toBe(false);
    expect(matchesPattern({ x: [{ numeric: ['=', 300] }] }, '{"x": 300.000}')).toBe(true);
  });

  it('never equal strings that spell them', () => {
    expect(matchesPattern({ x: [300] }, { x: '300' })).toBe(false);
    expect(matchesPattern({ x: ['300'] }, { x: 300 })).toBe(false);
    expect(matchesPattern({ x: [{ numeric: ['>', 1] }] }, { x: '5' })).toBe(false);
  });

  it('numeric ranges respect open and closed bounds, and negative values', () => {
    const pattern = { x: [{ numeric: ['>=', -1.5, '<', 2] }] };
    expect(matchesPattern(pattern, { x: -1.5 })).toBe(true);
    expect(matchesPattern(pattern, { x: 1.999999 })).toBe(true);
    expect(matchesPattern(pattern, { x: 2 })).toBe(false);
    expect(matchesPattern(pattern, { x: -1.500001 })).toBe(false);
  });

  it('numeric matching is exact to six decimals, within ±5e9, and skips event values outside that', () => {
    expect(matchesPattern({ x: [{ numeric: ['=', 0.1] }] }, { x: 0.3 - 0.2 })).toBe(false); // 0.09999999999999998 has too many decimals
    expect(matchesPattern({ x: [{ numeric: ['>', 0] }] }, { x: 0.0000001 })).toBe(false);
    expect(matchesPattern({ x: [{ numeric: ['<=', 5e9] }] }, { x: 5e9 })).toBe(true);
    expect(matchesPattern({ x: [{ numeric: ['>', 0] }] }, { x: 5e9 + 1 })).toBe(false);
    expect(matchesPattern({ x: [{ numeric: ['>', 0] }] }, { x: 1e21 })).toBe(false);
  });

  it('exact numbers outside the numeric range still match themselves', () => {
    expect(matchesPattern({ account: [123456789012] }, { account: 123456789012 })).toBe(true);
    expect(matchesPattern({ x: [1.23456789] }, { x: 1.23456789 })).toBe(true);
  });
});

describe('null, missing and empty values', () => {
  it('[null] matches only a present null', () => {
    expect(matchesPattern({ x: [null] }, { x: null })).toBe(true);
    expect(matchesPattern({ x: [null] }, {})).toBe(false);
    expect(matchesPattern({ x: [null] }, { x: 'null' })).toBe(false);
  });

  it('exists: true matches any leaf, null included; exists: false only a missing one', () => {
    expect(matchesPattern({ x: [{ exists: true }] }, { x: null })).toBe(true);
    expect(matchesPattern({ x: [{ exists: true }] }, { x: false })).toBe(true);
    expect(matchesPattern({ x: [{ exists: true }] }, {})).toBe(false);
    expect(matchesPattern({ x: [{ exists: false }] }, { x: null })).toBe(false);
    expect(matchesPattern({ x: [{ exists: false }] }, {})).toBe(true);
  });

  it('exists only sees leaves: an object or an empty array is no value', () => {
    expect(matchesPattern({ x: [{ exists: true }] }, { x: { y: 1 } })).toBe(false);
    expect(matchesPattern({ x: [{ exists: true }] }, { x: [] })).toBe(false);
    expect(matchesPattern({ x: [{ exists: false }] }, { x: [] })).toBe(true);
    expect(matchesPattern({ x: [{ exists: true }] }, { x: [null] })).toBe(true);
  });

  it('an empty array in the event matches no value, not even null', () => {
    // Recorded against AWS: {"resources": [null]} does not match "resources": [].
    expect(matchesPattern({ resources: [null] }, { resources: [] })).toBe(false);
  });

  it('anything-but needs the field, but accepts null and values of another type', () => {
    expect(matchesPattern({ x: [{ 'anything-but': 'a' }] }, {})).toBe(false);
    expect(matchesPattern({ x: [{ 'anything-but': 'a' }] }, { x: null })).toBe(true);
    expect(matchesPattern({ x: [{ 'anything-but': 'a' }] }, { x: 7 })).toBe(true);
    expect(matchesPattern({ x: [{ 'anything-but': { prefix: 'init' } }] }, { x: 12 })).toBe(true);
    expect(matchesPattern({ x: [{ 'anything-but': { prefix: 'init' } }] }, { x: null })).toBe(true);
    expect(matchesPattern({ x: [{ 'anything-but': { wildcard: '*' } }] }, { x: 1 })).toBe(true);
  });

  it('a field that is "exists: false" or another value matches when either holds', () => {
    // Recorded against AWS: anything-but on a missing field fails, but the exists: false alternative holds.
    const pattern = { dynamodb: { NewImage: { homemade: { S: [{ 'anything-but': ['roses'] }, { exists: false }] } } } };
    expect(matchesPattern(pattern, { dynamodb: { NewImage: { purchased: { N: '789' } } } })).toBe(true);
    expect(matchesPattern(pattern, { dynamodb: { NewImage: { homemade: { S: 'roses' } } } })).toBe(false);
  });

  it('undefined properties of an object event are absent, as after JSON.stringify', () => {
    expect(matchesPattern({ x: [{ exists: false }] }, { x: undefined })).toBe(true);
  });
});

describe('arrays in events', () => {
  it('every element is a candidate value', () => {
    expect(matchesPattern({ tags: ['b'] }, { tags: ['a', 'b'] })).toBe(true);
    expect(matchesPattern({ tags: [{ prefix: 'x' }] }, { tags: ['a', 'xb'] })).toBe(true);
    expect(matchesPattern({ tags: [{ 'anything-but': 'a' }] }, { tags: ['a', 'b'] })).toBe(true);
    expect(matchesPattern({ tags: [{ 'anything-but': 'a' }] }, { tags: ['a', 'a'] })).toBe(false);
    expect(matchesPattern({ n: [{ numeric: ['>', 10] }] }, { n: [1, [2, [30]]] })).toBe(true);
  });

  it('exists: false inside arrays is judged against the element earlier fields pinned', () => {
    const event = { items: [{ a: 1, b: 2 }, { a: 3 }] };
    expect(matchesPattern({ items: { a: [3], b: [{ exists: false }] } }, event)).toBe(true);
    expect(matchesPattern({ items: { a: [1], b: [{ exists: false }] } }, event)).toBe(false);
    // With nothing pinned, a field present in any element counts as present.
    expect(matchesPattern({ items: { b: [{ exists: false }] } }, event)).toBe(false);
  });

  it('exists: false is checked in lexical key order, as the engine walks fields', () => {
    // "a" sorts before "b": when "a" is checked no element is pinned yet, and element 0 has an "a".
    expect(matchesPattern({ items: { a: [{ exists: false }], b: [2] } }, { items: [{ a: 1 }, { b: 2 }] })).toBe(false);
    expect(matchesPattern({ items: { z: [{ exists: false }], b: [2] } }, { items: [{ z: 1 }, { b: 2 }] })).toBe(true);
  });
});

describe('wildcards', () => {
  it('* matches any run of characters, the empty one included', () => {
    expect(matchesPattern({ f: [{ wildcard: 'a*c' }] }, { f: 'ac' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: 'a*c' }] }, { f: 'a/b\nc' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: '*' }] }, { f: '' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: '*' }] }, { f: 3 })).toBe(false);
    expect(
      matchesPattern({ f: [{ wildcard: '/Users/*/dir/dir/dir/dir/dir/doc.txt' }] }, { f: '/Users/ls_user/dir/dir/dir/dir/dir/doc.txt' }),
    ).toBe(true);
  });

  it('\\* is a literal asterisk and \\\\ a literal backslash', () => {
    expect(matchesPattern({ f: [{ wildcard: 'a\\*b' }] }, { f: 'a*b' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: 'a\\*b' }] }, { f: 'axb' })).toBe(false);
    expect(matchesPattern({ f: [{ wildcard: 'C:\\\\*' }] }, { f: 'C:\\Windows' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: '\\\\\\**' }] }, { f: '\\*tail' })).toBe(true);
  });

  it('regular-expression characters are literal', () => {
    expect(matchesPattern({ f: [{ wildcard: 'a.c*' }] }, { f: 'abc' })).toBe(false);
    expect(matchesPattern({ f: [{ wildcard: '(x)+[y]*' }] }, { f: '(x)+[y]z' })).toBe(true);
  });

  it("matches the user guide's wildcard examples, ARNs with dashes and colons included", () => {
    const bus = { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] };
    expect(matchesPattern(bus, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/orders-prod' })).toBe(true);
    expect(matchesPattern(bus, { EventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/orders' })).toBe(false);
    expect(matchesPattern({ FileName: [{ wildcard: 'dir/*.png' }] }, { FileName: 'dir/cat.png' })).toBe(true);
    expect(matchesPattern({ FileName: [{ wildcard: 'dir/*.png' }] }, { FileName: 'dir/cat.jpg' })).toBe(false);
    expect(
      matchesPattern(
        { 'detail-type': [{ wildcard: '*Instance State-change*' }] },
        { 'detail-type': 'EC2 Instance State-change Notification' },
      ),
    ).toBe(true);
    expect(matchesPattern({ FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { FilePath: '/usr/bin/env' })).toBe(true);
    expect(matchesPattern({ FilePath: [{ 'anything-but': { wildcard: ['*/lib/*', '*/bin/*'] } }] }, { FilePath: '/usr/bin/env' })).toBe(
      false,
    );
  });

  it('every printable ASCII character other than * and \\ is literal, before and after a *', () => {
    for (let code = 0x20; code < 0x7f; code++) {
      const c = String.fromCharCode(code);
      if (c === '*' || c === '\\') continue;
      const pattern = { f: [{ wildcard: `a${c}*${c}z` }] };
      expect(matchesPattern(pattern, { f: `a${c}${c}z` }), `character ${JSON.stringify(c)}`).toBe(true);
      expect(matchesPattern(pattern, { f: `a${c}-anything-${c}z` }), `character ${JSON.stringify(c)}`).toBe(true);
      const other = c === 'b' ? 'c' : 'b';
      expect(matchesPattern(pattern, { f: `a${other}${c}z` }), `character ${JSON.stringify(c)}`).toBe(false);
      expect(matchesPattern({ f: [{ 'anything-but': { wildcard: `${c}*` } }] }, { f: `${c}x` }), `character ${JSON.stringify(c)}`).toBe(
        false,
      );
    }
  });

  it('works on unicode strings', () => {
    expect(matchesPattern({ f: [{ wildcard: 'caf*é' }] }, { f: 'café au lait, café' })).toBe(true);
    expect(matchesPattern({ f: [{ wildcard: '🚀*' }] }, { f: '🚀 launch' })).toBe(true);
  });

  it('refuses two wildcards in a row and stray escapes, naming the UTF-8 position', () => {
    expect(refusal({ f: [{ wildcard: 'a**' }] })).toBe('Consecutive wildcard characters at pos 2');
    expect(refusal({ f: [{ wildcard: 'é**' }] })).toBe('Consecutive wildcard characters at pos 3');
    expect(refusal({ f: [{ wildcard: 'a\\b' }] })).toBe('Invalid escape character at pos 2');
    expect(refusal({ f: [{ wildcard: 'trailing\\' }] })).toBe('Invalid escape character at pos 9');
    expect(refusal({ f: [{ 'anything-but': { wildcard: ['ok*', 'x**'] } }] })).toBe('Consecutive wildcard characters at pos 2');
  });
});

describe('case-insensitive matching', () => {
  it('folds unicode letters', () => {
    expect(matchesPattern({ n: [{ 'equals-ignore-case': 'ÉCOLE' }] }, { n: 'école' })).toBe(true);
    expect(matchesPattern({ n: [{ prefix: { 'equals-ignore-case': 'ÉC' } }] }, { n: 'école' })).toBe(true);
    expect(matchesPattern({ n: [{ 'equals-ignore-case': '' }] }, { n: '' })).toBe(true);
  });

  it('folds character by character, so a case mapping that changes length does not match', () => {
    expect(matchesPattern({ n: [{ 'equals-ignore-case': 'STRASSE' }] }, { n: 'straße' })).toBe(false);
  });

  it('never matches a number', () => {
    expect(matchesPattern({ n: [{ 'equals-ignore-case': '1' }] }, { n: 1 })).toBe(false);
  });
});

describe('IP addresses', () => {
  it('matches IPv6 ranges', () => {
    const pattern = { ip: [{ cidr: '2001:db8::/32' }] };
    expect(matchesPattern(pattern, { ip: '2001:db8:ffff::1' })).toBe(true);
    expect(matchesPattern(pattern, { ip: '2001:db9::1' })).toBe(false);
    expect(matchesPattern(pattern, { ip: '10.0.0.1' })).toBe(false);
  });

  it('does not match strings that are not addresses, nor numbers', () => {
    const pattern = { ip: [{ cidr: '10.0.0.0/24' }] };
    expect(matchesPattern(pattern, { ip: '10.0.0.300' })).toBe(false);
    expect(matchesPattern(pattern, { ip: 'host.example' })).toBe(false);
    expect(matchesPattern(pattern, { ip: 123 })).toBe(false);
  });

  it('compares an exact address by value, so any spelling of it matches', () => {
    expect(matchesPattern({ ip: ['2001:db8::1'] }, { ip: '2001:0db8:0000:0000:0000:0000:0000:0001' })).toBe(true);
    expect(matchesPattern({ ip: ['10.0.0.1'] }, { ip: '::ffff:10.0.0.1' })).toBe(true);
  });

  it('keeps the address as written as the bottom of the range, as the engine does', () => {
    expect(matchesPattern({ ip: [{ cidr: '10.0.0.5/24' }] }, { ip: '10.0.0.4' })).toBe(false);
    expect(matchesPattern({ ip: [{ cidr: '10.0.0.5/24' }] }, { ip: '10.0.0.200' })).toBe(true);
  });
});

describe('inputs', () => {
  it('accepts patterns and events as JSON text', () => {
    expect(matchesPattern('{"source": ["aws.ec2"]}', JSON.stringify(ec2Event))).toBe(true);
  });

  it('refuses an event that is not a JSON object', () => {
    expect(() => matchesPattern({ a: ['x'] }, [1, 2])).toThrow(TypeError);
    expect(() => matchesPattern({ a: ['x'] }, 'not json')).toThrow(TypeError);
  });

  it('compiles a pattern once for many events', () => {
    const isTerminated = compilePattern({ detail: { state: ['terminated'] } });
    expect([ec2Event, { detail: { state: 'running' } }].map(isTerminated)).toEqual([true, false]);
  });
});

describe('validatePattern refuses what PutRule refuses', () => {
  const cases: [string, unknown, string][] = [
    ['a pattern that is not an object', ['source'], 'Filter is not an object'],
    ['JSON text that does not parse', '{"source": [', 'Filter is not valid JSON'],
    ['an empty pattern', {}, 'Empty objects are not allowed'],
    ['an empty nested object', { source: ['x'], detail: {} }, 'Empty objects are not allowed'],
    ['a leaf that is not an array', { source: 'aws.ec2' }, '"source" must be an object or an array'],
    ['a null leaf', { detail: { state: null } }, '"state" must be an object or an array'],
    ['an empty value list', { 'detail-type': [] }, 'Empty arrays are not allowed'],
    ['a nested array as a value', { a: [['x']] }, 'Match value must be String, number, true, false, or null'],
    ['an empty match expression', { a: [{}] }, 'Match expression name not found'],
    ['an unknown operator', { a: [{ contains: 'x' }] }, 'Unrecognized match type contains'],
    ['two operators in one expression', { a: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed in match expression'],
    ['a prefix that is not a string', { a: [{ prefix: 1 }] }, 'prefix match pattern must be a string'],
    ['a suffix that is not a string', { a: [{ suffix: null }] }, 'suffix match pattern must be a string'],
    ['an unknown prefix option', { a: [{ prefix: { 'ignore-case': 'x' } }] }, 'Unsupported prefix pattern: ignore-case'],
    ['equals-ignore-case with a number', { a: [{ 'equals-ignore-case': 1 }] }, 'equals-ignore-case match pattern must be a string'],
    ['a wildcard that is not a string', { a: [{ wildcard: ['x'] }] }, 'wildcard match pattern must be a string'],
    ['exists that is not a boolean', { a: [{ exists: 'true' }] }, 'exists match pattern must be either true or false.'],
    ['numeric that is not an array', { a: [{ numeric: '>5' }] }, 'Value of numeric must be an array.'],
    ['an empty numeric array', { a: [{ numeric: [] }] }, 'Invalid member in numeric match: ]'],
    ['a numeric array starting with a number', { a: [{ numeric: [5, '>'] }] }, 'Invalid member in numeric match: 5'],
    ['an unknown numeric operator', { a: [{ numeric: ['!=', 5] }] }, 'Unrecognized numeric range operator: !='],
    ['a numeric bound that is not a number', { a: [{ numeric: ['>', '5'] }] }, 'Value of > must be numeric'],
    ['a numeric equality without a number', { a: [{ numeric: ['='] }] }, 'Value of equals must be numeric'],
    ['an upper bound first', { a: [{ numeric: ['<', 10, '>', 0] }] }, 'Too many elements in numeric expression'],
    ['a second lower bound', { a: [{ numeric: ['>', 0, '>', 5] }] }, 'Bad numeric range operator: >'],
    ['a range operator that is not a string', { a: [{ numeric: ['>', 0, 5] }] }, 'Bad value in numeric range: 5'],
    ['a second bound that is not a number', { a: [{ numeric: ['>', 0, '<', null] }] }, 'Value of < must be numeric'],
    ['an inverted range', { a: [{ numeric: ['>', 5, '<', 1] }] }, 'Bottom must be less than top'],
    ['an empty range', { a: [{ numeric: ['>=', 5, '<=', 5] }] }, 'Bottom must be less than top'],
    ['a range with extra terms', { a: [{ numeric: ['>', 0, '<', 5, 6] }] }, 'Too many terms in numeric range expression'],
    ['a bound beyond 5e9', { a: [{ numeric: ['<', 5000000001] }] }, 'Value must be between -5000000000 and 5000000000, inclusive'],
    ['a bound with seven decimals', { a: [{ numeric: ['=', 1.0000001] }] }, 'Only values upto 6 decimals are supported: 1.0000001'],
    ['a cidr that is not a string', { a: [{ cidr: 10 }] }, 'prefix match pattern must be a string'],
    ['a cidr without a mask', { a: [{ cidr: '10.0.0.0' }] }, "Malformed CIDR, one '/' required"],
    ['a cidr with a bad mask', { a: [{ cidr: '10.0.0.0/x' }] }, 'Malformed CIDR, mask bits must be an integer'],
    ['a cidr with a bad address', { a: [{ cidr: '10.0.0/24' }] }, 'Nonstandard IP address: 10.0.0'],
    ['an IPv4 /32', { a: [{ cidr: '10.0.0.1/32' }] }, 'IPv4 mask bits must be < 32'],
    ['an IPv6 /128', { a: [{ cidr: '::1/128' }] }, 'IPv6 mask bits must be < 128'],
    ['anything-but null', { a: [{ 'anything-but': null }] }, 'Value of anything-but must be an array or single string/number value.'],
    ['anything-but true', { a: [{ 'anything-but': true }] }, 'Value of anything-but must be an array or single string/number value.'],
    [
      'anything-but listing null',
      { a: [{ 'anything-but': ['a', null] }] },
      'Inside anything but list, start|null|boolean is not supported.',
    ],
    [
      'anything-but mixing strings and numbers',
      { a: [{ 'anything-but': ['a', 1] }] },
      'Inside anything but list, either all values are number or string, mixed type is not supported',
    ],
    [
      'anything-but with an unknown option',
      { a: [{ 'anything-but': { numeric: ['>', 1] } }] },
      'Unsupported anything-but pattern: numeric',
    ],
    ['an empty anything-but object', { a: [{ 'anything-but': {} }] }, 'Anything-But expression name not found'],
    ['anything-but with an empty prefix', { a: [{ 'anything-but': { prefix: '' } }] }, 'Null prefix/suffix not allowed'],
    ['anything-but with a numeric suffix', { a: [{ 'anything-but': { suffix: [1] } }] }, 'prefix/suffix match pattern must be a string'],
    [
      'anything-but prefix ignoring case',
      { a: [{ 'anything-but': { prefix: { 'equals-ignore-case': 'x' } } }] },
      'Value of anything-but must be an array or single string/number value.',
    ],
    [
      'anything-but equals-ignore-case with a number',
      { a: [{ 'anything-but': { 'equals-ignore-case': [1] } }] },
      'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
    ],
    ['$or that is not an array', { $or: { a: ['x'] } }, 'It must be an Array followed with $or.'],
    ['$or with one alternative', { $or: [{ a: ['x'] }] }, 'There must have at least 2 Objects in $or relationship.'],
    ['$or with no alternative', { $or: [] }, 'There must have at least 2 Objects in $or relationship.'],
    ['$or listing a non-object', { $or: [{ a: ['x'] }, 'b'] }, 'Only JSON object is allowed in array of $or relationship.'],
    ['$or with an empty alternative', { $or: [{ a: ['x'] }, {}] }, 'Empty objects are not allowed'],
    [
      'an operator name used as a field inside $or',
      { $or: [{ a: ['x'] }, { prefix: ['y'] }] },
      'prefix is Ruler reserved fieldName which cannot be used inside $or.',
    ],
  ];

  it.each(cases)('refuses %s', (_what, pattern, reason) => {
    expect(refusal(pattern)).toBe(reason);
  });

  it('says where the problem is', () => {
    expect(() => validatePattern({ detail: { items: [{ prefix: 'a' }, { nope: 1 }] } })).toThrow(
      'Event pattern is not valid. Reason: Unrecognized match type nope (at detail.items[1].nope)',
    );
  });

  it('makes matchesPattern throw rather than match', () => {
    expect(() => matchesPattern({ source: 'aws.ec2' }, ec2Event)).toThrow(InvalidEventPatternError);
  });

  it('accepts operator names as ordinary fields outside $or', () => {
    expect(refusal({ prefix: ['x'], detail: { numeric: [1] } })).toBeUndefined();
  });

  it('accepts the undocumented "equals" operator the engine supports', () => {
    expect(matchesPattern({ a: [{ equals: 'x' }] }, { a: 'x' })).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

type Leaf = string | number | boolean | null;
type Doc = { [key: string]: Leaf | Leaf[] | Doc };

const key = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== '$or' && !k.includes('.'));
const leaf: fc.Arbitrary<Leaf> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const doc: fc.Arbitrary<Doc> = fc.letrec<{ doc: Doc; value: Leaf | Leaf[] | Doc }>((tie) => ({
  doc: fc.dictionary(key, tie('value'), { minKeys: 1, maxKeys: 4 }),
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(leaf, { maxLength: 3 }), tie('doc')),
})).doc;

/** A pattern naming every non-empty leaf of `event` with that leaf's own value(s). */
function patternOf(event: Doc): Doc | undefined {
  const out: Doc = {};
  for (const [k, v] of Object.entries(event)) {
    if (Array.isArray(v)) {
      if (v.length > 0) out[k] = v;
    } else if (v !== null && typeof v === 'object') {
      const sub = patternOf(v);
      if (sub) out[k] = sub;
    } else {
      out[k] = [v];
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

describe('properties', () => {
  it('a pattern built from an event’s own leaf values matches that event', () => {
    fc.assert(
      fc.property(doc, (event) => {
        const pattern = patternOf(event);
        fc.pre(pattern !== undefined);
        expect(matchesPattern(pattern, event)).toBe(true);
      }),
    );
  });

  const comparable = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.integer({ min: -5_000_000_000, max: 5_000_000_000 }),
    fc.integer({ min: -5_000_000_000_000, max: 5_000_000_000_000 }).map((n) => n / 1000),
  );

  it('anything-but a value never matches an event holding exactly that value', () => {
    fc.assert(
      fc.property(comparable, fc.array(comparable, { maxLength: 3 }), (value, others) => {
        const event = { detail: { x: value } };
        expect(matchesPattern({ detail: { x: [{ 'anything-but': value }] } }, event)).toBe(false);
        const list = [...others.filter((o) => typeof o === typeof value), value];
        expect(matchesPattern({ detail: { x: [{ 'anything-but': list }] } }, event)).toBe(false);
      }),
    );
  });

  it('anything-but a value matches every other value of the same type', () => {
    fc.assert(
      fc.property(comparable, comparable, (excluded, value) => {
        fc.pre(excluded !== value);
        expect(matchesPattern({ x: [{ 'anything-but': excluded }] }, { x: value })).toBe(true);
      }),
    );
  });

  it('numeric ranges agree with ordinary comparison for numbers of up to six decimals', () => {
    const scaled = fc.integer({ min: -5_000_000_000_000, max: 5_000_000_000_000 }).map((n) => n / 1000);
    fc.assert(
      fc.property(scaled, scaled, scaled, (low, high, value) => {
        fc.pre(low < high);
        expect(matchesPattern({ x: [{ numeric: ['>', low, '<=', high] }] }, { x: value })).toBe(value > low && value <= high);
      }),
    );
  });
});
