/**
 * A clock for tests of real processes that reason about "today" (open windows, the last closed
 * day, a cron at 02:00): pinned to 12:00 UTC of the current date when the test file loads, and
 * running on from there. A test that started at 23:59:50 therefore never sees midnight pass, and
 * a 02:00 cron never fires during it. Child processes get the same clock through `clockEnv()`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const DAY = 86_400_000;
const realNow = Date.now();
/** How far the test clock is ahead of (or behind) the wall clock. */
export const CLOCK_OFFSET_MS = Math.floor(realNow / DAY) * DAY + DAY / 2 - realNow;

/** Now on the test clock. */
export const testNow = (): number => Date.now() + CLOCK_OFFSET_MS;
/** Midnight UTC starting the test clock's day. */
export const testToday = (): number => Math.floor(testNow() / DAY) * DAY;

const preload = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'shifted-clock.mjs')).href;

/** Environment for a child process that runs on the test clock (merge into its env). */
export function clockEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    NODE_OPTIONS: [base.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' '),
    OXB_TEST_CLOCK_OFFSET_MS: String(CLOCK_OFFSET_MS),
  };
}
