/** A user's app: its own task names (none of the repository's shop example), a link and a subscriber. */
import { createApp } from 'celeriac';

export const app = createApp({ name: 'consumer' });

export const plus = app.task('consumer-plus', (x: number, y: number) => x + y);
export const total = app.task('consumer-total', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
export const announce = app.task('consumer-announce', (n: number) => `announced ${n}`);

app.link(total, announce);
app.subscribe('consumer-audit', { entry: 'src/subscriber.ts' });
