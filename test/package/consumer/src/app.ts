/** A user's app: its own task names (none of the repository's shop example), a link, a subscriber and a large value. */
import { createApp } from 'celeriac';

export const app = createApp({ name: 'consumer' });

export const plus = app.task('consumer-plus', (x: number, y: number) => x + y);
export const total = app.task('consumer-total', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
export const announce = app.task('consumer-announce', (n: number) => `announced ${n}`);
/** A result over the 64 KiB payload threshold: it travels by reference (the mode's S3), read back as the value. */
export const pad = app.task('consumer-pad', (n: number) => 'p'.repeat(n));
export const measure = app.task('consumer-measure', (s: string) => s.length);

app.link(total, announce);
app.subscribe('consumer-audit', { entry: 'src/subscriber.ts' });
