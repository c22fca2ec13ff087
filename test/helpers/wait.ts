/** How often waitFor asks again: often enough to be prompt, rarely enough to leave the CPU to the code under test. */
const POLL_INTERVAL_MS = 20;

/**
 * Polls `probe` until it returns something other than `false` or `undefined`, and resolves with
 * that value (`true` for a plain condition). Throws once `timeoutMs` has passed; `what` names the
 * condition in that error.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<Exclude<T, false | undefined>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== false && value !== undefined) return value as Exclude<T, false | undefined>;
    if (Date.now() > end) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
