import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CeleriacStack } from '../../cdk/stack';
import { createShopCdkApp } from '../../examples/shop/infra/shop-stack';
import type { AppTopologyInput } from '../../lib/routing';
import { inlineRunner, nagReport, shop, synth } from './helpers';

const ref = (id: string) => ({ Ref: id });

describe('CeleriacStack outputs', () => {
  it('give the app name, queue URLs, DLQ URLs (per queue and as JSON maps), the table, the payload bucket, the bus, the events DLQ and the scheduler group and role', () => {
    const s = synth();
    const r = s.stack.runner;
    const q = (name: string) => s.logicalId(r.queue(name));
    const d = (name: string) => s.logicalId(r.deadLetterQueue(name));
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const values = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.Value]));
    expect(values).toEqual({
      AppName: 'shop',
      TableName: ref(s.logicalId(r.table as never)),
      PayloadBucketName: ref(s.logicalId(r.payloads?.bucket as never)),
      BusName: ref(s.logicalId(r.bus as never)),
      EventsDlqUrl: ref(s.logicalId(r.eventsDeadLetterQueue)),
      SchedulerGroup: s.stack.resolve(r.scheduleGroup.scheduleGroupName),
      SchedulerRoleArn: { 'Fn::GetAtt': [s.logicalId(r.schedulerRole as never), 'Arn'] },
      QueueUrls: { 'Fn::Join': ['', ['{"default":"', ref(q('default')), '","mail":"', ref(q('mail')), '"}']] },
      DlqUrls: { 'Fn::Join': ['', ['{"default":"', ref(d('default')), '","mail":"', ref(d('mail')), '"}']] },
      QueueUrldefault: ref(q('default')),
      DlqUrldefault: ref(d('default')),
      QueueUrlmail: ref(q('mail')),
      DlqUrlmail: ref(d('mail')),
    });
  });

  it('keep output keys unique when queue names differ only by punctuation', () => {
    const topology: AppTopologyInput = {
      ...shop,
      tasks: [
        { name: 'a', queue: 'high-priority', events: true },
        { name: 'b', queue: 'high_priority', events: true },
      ],
      links: [],
      subscribers: [],
      periodic: [],
      queues: [],
    };
    const outputs = Object.keys(synth(topology, inlineRunner(topology)).template.toJSON().Outputs as object);
    expect(outputs).toEqual(
      expect.arrayContaining(['QueueUrlhighpriority', 'QueueUrlhighpriority2', 'DlqUrlhighpriority', 'DlqUrlhighpriority2']),
    );
  });
});

describe("the shop's deployment (examples/shop/infra)", () => {
  it('createShopCdkApp: a stack named after the app, cdk-nag registered, synthesising with zero findings', () => {
    const { app, stack } = createShopCdkApp(shop, { runner: inlineRunner() });
    expect(stack.stackName).toBe('celeriac-shop');
    expect(stack).toBeInstanceOf(CeleriacStack);
    const { violations } = nagReport(app, { registered: true });
    expect(violations).toEqual([]);
    expect(fs.existsSync(path.join(app.outdir, 'celeriac-shop.template.json'))).toBe(true);
  });

  it('createShopCdkApp: context celeriac:removalPolicy=destroy lets the example stack be deleted cleanly', () => {
    const { stack } = createShopCdkApp(shop, { runner: inlineRunner(), appProps: { context: { 'celeriac:removalPolicy': 'destroy' } } });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    t.hasResource('AWS::Scheduler::ScheduleGroup', { DeletionPolicy: 'Delete' });
    const retained = createShopCdkApp(shop, { runner: inlineRunner() }).stack;
    Template.fromStack(retained).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it("the shop's cdk.json runs its infra/app.ts with tsx and sets the destroy policy; the library root deploys nothing", () => {
    const cdkJson = JSON.parse(fs.readFileSync(new URL('../../examples/shop/cdk.json', import.meta.url), 'utf8')) as {
      app: string;
      context: Record<string, string>;
    };
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
    expect(cdkJson.context['celeriac:removalPolicy']).toBe('destroy');
    expect(fs.existsSync(new URL('../../cdk.json', import.meta.url))).toBe(false);
    expect(new App().node.tryGetContext('celeriac:removalPolicy')).toBeUndefined();
  });
});
