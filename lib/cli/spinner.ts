/**
 * A tiny progress spinner on stderr, for long waits. It draws only when stderr is a terminal,
 * so pipes, CI logs and `--json` consumers never see control characters.
 */
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS = 80;

export interface Spinner {
  /** Changes the text next to the spinner. */
  update(text: string): void;
  /** Erases the spinner line. */
  stop(): void;
}

const NOOP: Spinner = { update() {}, stop() {} };

/**
 * Starts a spinner with `text`; a no-op when `enabled` is false or stderr is not a TTY.
 *
 * @example
 * ```ts
 * const s = spinner('waiting for add[3f2a…]');
 * try { await wait(); } finally { s.stop(); }
 * ```
 */
export function spinner(text: string, enabled = true, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!enabled || !stream.isTTY) return NOOP;
  const started = Date.now();
  let frame = 0;
  let label = text;
  const draw = () => {
    const secs = ((Date.now() - started) / 1_000).toFixed(1);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label} ${secs}s`);
  };
  draw();
  const timer = setInterval(draw, INTERVAL_MS);
  // The spinner alone must never keep the process alive.
  timer.unref();
  return {
    update(t) {
      label = t;
    },
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}
