/** Plain-text formatting for human output (tables, durations, ids). `--json` output bypasses all of it. */

/** `3f2a9c1e…` for long ids: tables stay narrow; `--json` keeps the full id. */
export function shortId(id: string, keep = 8): string {
  // Derived ids (`<uuid>.errback.refund`, `<uuid>.link.notify`) keep their suffix: it is what tells them apart.
  const m = /^([0-9a-f]{8})[0-9a-f-]{28}(\..+)$/i.exec(id);
  if (m) return `${m[1]}…${m[2]}`;
  return id.length > keep + 4 ? `${id.slice(0, keep)}…` : id;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** A left-aligned text table with a header row; numbers in `right` columns align right. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A value as one line of JSON, clipped for tables and logs. */
export function preview(value: unknown, max = 60): string {
  const s = value === undefined ? '' : typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** `HH:MM:SS.mmm` in local time, for event lines. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
