/**
 * The dashboard in a real browser: headless Chromium (playwright-core) on the page of a
 * `celeriac dev` (emulated mode: SQS and DynamoDB emulators) that this file starts and stops.
 * It runs a chain and a chord and checks that the task table and the workflow graph follow
 * live (no reload), then saves a screenshot to test-artifacts/dashboard.png.
 *
 * Needs Chromium at /usr/bin/chromium (Debian: `apt-get install -y chromium`): without it this
 * test FAILS, it does not skip.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevRun, ROOT, startDev } from '../cli/helpers';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'test-artifacts', 'dashboard.png');

let dev: DevRun | undefined;
let browser: Browser | undefined;
let page: Page;

/** Calls a task through the dev server's API (what `celeriac call` does). */
async function call(task: string, args: unknown[]): Promise<string> {
  const res = await fetch(`${dev?.url}/api/call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task, args }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const node = (task: string, state?: string) => `#graph g.node[data-task="${task}"]${state ? `[data-state="${state}"]` : ''}`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the dashboard e2e test needs it. Install it (Debian/Ubuntu: apt-get install -y chromium) and run again.`,
    );
  }
  const [d, b] = await Promise.all([
    startDev({ mode: 'emulated' }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    }),
  ]);
  dev = d;
  browser = b;
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dev.url);
  await page.waitForSelector('#conn.live');
  expect(errors).toEqual([]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (dev !== undefined) expect(await dev.stop()).toBe(0);
});

describe('dashboard', () => {
  it('shows the app, its queues and their dead-letter queues', async () => {
    await expect.poll(() => page.textContent('#app')).toBe('clitest');
    await page.waitForSelector('#queues tr[data-queue="poison"]');
    expect(await page.textContent('#queues')).toContain('clitest-poison-dlq');
    expect(await page.textContent('#mode')).toContain('emulated');
  });

  it('follows a chain live: table rows appear, graph nodes go STARTED then SUCCESS', async () => {
    const launcher = await call('startChain', [1, 1_500]);
    // The row arrives over the stream, without a reload; clicking it draws its workflow.
    await page.click(`tr.task[data-id="${launcher}"]`, { timeout: 10_000 });
    await page.waitForSelector(node('slow', 'STARTED'), { timeout: 10_000 });
    await page.waitForSelector(`${node('slow', 'SUCCESS')}`, { timeout: 10_000 });
    await expect.poll(() => page.locator('#graph g.node[data-state="SUCCESS"]').count(), { timeout: 10_000 }).toBe(4);

    // startChain → add(1, 1) → slow → add(…, 10): the canvas hangs under the task that started it.
    expect(await page.locator('#graph path.edge.parent').count()).toBe(1);
    expect(await page.locator('#graph path.edge.flow').count()).toBe(2);
    expect(await page.locator('#graph g.node[data-task="add"]').count()).toBe(2);
    expect(await page.locator('tr.task[data-task="slow"][data-state="SUCCESS"]').count()).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#wf-hint')).toBe('4 tasks, 4 done');
  });

  it('draws a chord: every header member → the body, states updating live', async () => {
    const launcher = await call('startChord', [3, 800]);
    await page.click(`tr.task[data-id="${launcher}"]`, { timeout: 10_000 });
    // The body is known from the plan before it runs: PENDING first, SUCCESS later.
    await page.waitForSelector(node('sum', 'PENDING'), { timeout: 10_000 });
    await page.waitForSelector(node('sum', 'SUCCESS'), { timeout: 15_000 });
    const sumId = await page.getAttribute(node('sum'), 'data-id');
    expect(await page.locator(`#graph path.edge.flow[data-to="${sumId}"]`).count()).toBe(3);
    expect(await page.locator('#graph g.node[data-task="slow"][data-state="SUCCESS"]').count()).toBe(3);
    expect(await page.textContent(node('sum'))).toContain('SUCCESS');
    await expect.poll(() => page.textContent(`tr.task[data-id="${sumId}"]`), { timeout: 5_000 }).toContain('6');
    // The chord's deadline check waits, delayed, in the body's queue: the table says what it is.
    const checks = page.locator('#queues tr[data-queue="default"] [data-deadline-checks]');
    await expect.poll(() => checks.count(), { timeout: 5_000 }).toBe(1);
    expect(await checks.textContent()).toBe('(1 chord deadline check)');
    expect(Number(await page.getAttribute('#queues tr[data-queue="default"] td[data-delayed]', 'data-delayed'))).toBeGreaterThanOrEqual(1);
  });

  it('shows failures with their error, and saves a screenshot', async () => {
    await call('fail', ['shown in red']);
    await page.waitForSelector('tr.task[data-task="fail"][data-state="FAILURE"]', { timeout: 10_000 });
    expect(await page.textContent('tr.task[data-task="fail"] td.err')).toBe('TypeError: failed on purpose: shown in red');
    // …and on its graph node, not only in a tooltip.
    await page.click('tr.task[data-task="fail"]');
    await page.waitForSelector(node('fail', 'FAILURE'), { timeout: 10_000 });
    expect(await page.textContent('#wf-hint')).toBe('1 task, 1 done');
    // The Tasks header says what its counts are over: every row the page holds.
    const rows = await page.locator('#tasks tbody tr.task').count();
    expect(await page.textContent('#tasks-hint')).toContain(`counts over the ${rows} most recent tasks`);
    const counted = await page
      .locator('#counts [data-count-state]')
      .evaluateAll((els) => els.reduce((n, el) => n + Number((el.textContent ?? '').split(' ').pop()), 0));
    expect(counted).toBe(rows);
    expect(await page.textContent(`${node('fail')} text.err`)).toBe('TypeError: failed on purpo…');
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
