/** `celeriac events`: recent lifecycle events, or a live tail with `--follow`. */
import type { BusEvent } from '../../ports';
import { CliError, ExitCodes, usage } from '../errors';
import { clock, formatDuration, preview, shortId } from '../format';
import { err, out, outJson } from '../io';
import type { Target } from '../target';

export interface EventsOptions {
  readonly follow?: boolean;
  readonly json?: boolean;
  /** Without --follow: how many recent events. */
  readonly limit?: number;
  /** With --follow: exit after this many events. */
  readonly max?: number;
  /** With --follow: exit 124 after this many seconds. */
  readonly timeout?: number;
}

export async function eventsCommand(target: Target, o: EventsOptions): Promise<number> {
  const print = (e: BusEvent) => (o.json ? outJson(e) : out(eventLine(e)));
  if (!o.follow) {
    for (const [option, value] of [
      ['--timeout', o.timeout],
      ['--max', o.max],
    ] as const) {
      if (value !== undefined)
        throw usage(`${option} goes with --follow (it bounds the live tail); without it, events lists the recent ones`);
    }
    const recent = await target.recentEvents(o.limit ?? 50);
    // On stderr: `--json` output and pipes stay empty, a person still reads why nothing came.
    if (recent.length === 0) err(`celeriac: no lifecycle events yet on ${target.label}`);
    for (const e of recent) print(e);
    return ExitCodes.OK;
  }
  const ac = new AbortController();
  let seen = 0;
  let timedOut = false;
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer =
    o.timeout === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          ac.abort();
        }, o.timeout * 1_000);
  try {
    await target.follow({
      signal: ac.signal,
      // On stderr, so `--json` output stays pure; scripts can wait for it before publishing.
      onReady: () => err(`celeriac: following events of ${target.label} (Ctrl-C to stop)`),
      onEvent: (e) => {
        if (ac.signal.aborted) return;
        print(e);
        seen++;
        if (o.max !== undefined && seen >= o.max) ac.abort();
      },
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (timedOut && (o.max === undefined || seen < o.max)) {
    throw new CliError(
      ExitCodes.TIMEOUT,
      `timed out after ${o.timeout} s with ${seen} event(s)${o.max === undefined ? '' : ` of ${o.max}`}`,
    );
  }
  return ExitCodes.OK;
}

/** `12:00:01.123 task-succeeded add[3f2a9c1e…] SUCCESS 2 ms → 5` */
export function eventLine(e: BusEvent): string {
  const d = e.detail as Record<string, unknown>;
  const id = typeof d.id === 'string' ? shortId(d.id) : '?';
  const err = d.error as { type?: string; message?: string } | undefined;
  const tail =
    err !== undefined ? ` ${err.type ?? 'Error'}: ${preview(err.message ?? '', 80)}` : 'result' in d ? ` → ${preview(d.result, 80)}` : '';
  const dur = typeof d.durationMs === 'number' ? ` ${formatDuration(d.durationMs)}` : '';
  return `${clock(e.time)} ${e.detailType} ${String(d.task ?? '?')}[${id}] ${String(d.state ?? '')}${dur}${tail}`;
}
