/**
 * `celeriac dev`: runs an app locally — pollers, event bus, schedules (startLocal) — with the
 * dashboard, until Ctrl-C. Other CLI commands find it through `.celeriac/dev.json`.
 */
import { relative, resolve } from 'node:path';
import type { Broker, BusEvent, JsonObject, QueueAdmin, QueueConsumer } from '../../index';
import { TaskFeed } from '../../local/dashboard/feed';
import { type Dashboard, PortInUseError, startDashboard } from '../../local/dashboard/server';
import { type LocalBusEvent, type LocalRuntime, startLocal } from '../../local/index';
import { isReady } from '../../results/states';
import { loadApp } from '../app-module';
import { clearDevState, processAlive, readDevState, writeDevState } from '../dev-state';
import { usage } from '../errors';
import { clock, formatDuration, preview, shortId } from '../format';
import { err, out } from '../io';
import { LocalTarget } from '../target-local';

export interface DevOptions {
  readonly mode: 'memory' | 'emulated';
  readonly port: number;
  /** No per-task lines on stdout. */
  readonly quiet?: boolean;
}

/** Runs until SIGINT/SIGTERM; resolves with the exit code after a clean stop. */
export async function devCommand(appModule: string, o: DevOptions, cwd = process.cwd()): Promise<number> {
  const running = readDevState(cwd);
  if (running !== undefined && running.pid !== process.pid && processAlive(running.pid)) {
    const alive = await new LocalTarget(running.url).probe().then(
      () => true,
      () => false,
    );
    if (alive) {
      throw usage(
        `a celeriac dev already runs here (pid ${running.pid}, ${running.url}); stop it first, or run this one from another directory`,
      );
    }
  }
  const app = await loadApp(appModule, cwd);

  const local: LocalRuntime = await startLocal(app, { mode: o.mode, root: cwd });
  const broker = local.backend.broker as Broker & QueueConsumer & QueueAdmin;
  const feed = new TaskFeed({ store: local.backend.store });
  const detachSignals = feed.attach(app);
  const unsubscribe = local.subscribe((e) => feed.ingestEvents([busEventOf(e)]));
  const statuses = await local.queues();
  let dashboard: Dashboard;
  try {
    dashboard = await startDashboard({
      app,
      backend: local.backend,
      feed,
      queues: statuses.map((q) => ({ name: q.name, dlq: q.deadLetterQueue })),
      admin: broker,
      consumer: broker,
      port: o.port,
      mode: o.mode,
    });
  } catch (e) {
    unsubscribe();
    detachSignals();
    await local.stop();
    if (e instanceof PortInUseError) {
      throw usage(`port ${e.port} is already in use (another celeriac dev?); pass --port <n>, or --port 0 for any free port`);
    }
    throw e;
  }

  writeDevState(
    {
      url: dashboard.url,
      pid: process.pid,
      app: app.name,
      mode: o.mode,
      appModule: relative(cwd, resolve(cwd, appModule)),
      startedAt: Date.now(),
    },
    cwd,
  );

  out(`celeriac dev · app ${app.name} · ${o.mode} mode`);
  out(`  dashboard  ${dashboard.url}`);
  out(`  tasks      ${app.taskNames().join(', ')}`);
  out(`  queues     ${statuses.map((q) => `${q.name} (dlq ${q.deadLetterQueue})`).join(', ')}`);
  out('  Ctrl-C to stop');

  const printed = new Map<string, string>();
  const detachLog = o.quiet
    ? () => {}
    : feed.onChange((c) => {
        if (c.kind !== 'task') return;
        const r = c.row;
        if (!(isReady(r.state) || r.state === 'RETRY') || printed.get(r.id) === r.state) return;
        // Bounded like the feed: a long run must not grow this map forever.
        if (printed.size > 5_000) printed.clear();
        printed.set(r.id, r.state);
        const tail = r.error
          ? ` ${r.error.type}: ${preview(r.error.message, 100)}`
          : r.state === 'SUCCESS'
            ? ` → ${preview(r.result, 80)}`
            : '';
        out(
          `${clock(Date.now())} ${r.task}[${shortId(r.id)}] ${r.state}${r.durationMs === undefined ? '' : ` ${formatDuration(r.durationMs)}`}${tail}`,
        );
      });

  // A dev server outlives bad tasks: an error escaping a task body's timers is reported, not fatal.
  const onStray = (e: unknown) =>
    err(`celeriac dev: unhandled error (still running): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        err(`celeriac dev: ${signal} again, exiting without a clean stop`);
        process.exit(130);
      }
      stopping = true;
      err('celeriac dev: stopping…');
      void (async () => {
        try {
          detachLog();
          unsubscribe();
          detachSignals();
          await dashboard.close();
          await local.stop();
        } catch (e) {
          err(`celeriac dev: error while stopping: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
          clearDevState(process.pid, cwd);
          process.off('unhandledRejection', onStray);
          process.off('uncaughtException', onStray);
          err('celeriac dev: stopped');
          resolveExit(0);
        }
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

/** The local bus delivers events as EventBridge does; the feed and the CLI use the PutEvents shape. */
function busEventOf(e: LocalBusEvent): BusEvent {
  return {
    source: e.source,
    detailType: e['detail-type'],
    detail: e.detail as JsonObject,
    // EventBridge times have second precision; the detail's own timestamp keeps the milliseconds.
    time: typeof e.detail.timestamp === 'string' ? Date.parse(e.detail.timestamp) : Date.parse(e.time),
    ...(e.resources.length > 0 ? { resources: e.resources } : {}),
  };
}
