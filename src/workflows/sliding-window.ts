import { condition, patched } from '@temporalio/workflow';

/** The window waits for its started tasks before an error or cancel leaves it (see README, "Changing workflow code"). */
export const SETTLE_STARTED_TASKS_PATCH = 'sliding-window-settles-started-tasks';

/**
 * Runs `task` over `items` (with each item's index) with at most `limit()` in flight: a finished task frees its slot at
 * once (no waiting for the slowest of a batch). `limit` and `canStart` are re-read before each
 * start, so signals can change concurrency, pause, or stop the window. It resolves when every
 * started task has settled. When a task fails, or cancellation throws out of the wait for a
 * slot, it starts no more tasks, waits for every started one to settle (a cancelled activity
 * settles once it has really stopped), then throws the first error.
 */
export async function slidingWindow<T>(
  items: readonly T[],
  limit: () => number,
  task: (item: T, index: number) => Promise<void>,
  canStart: () => boolean = () => true,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let inFlight = 0;
  let failed: { error: unknown } | undefined;
  const running: Promise<void>[] = [];
  try {
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      await condition(() => failed !== undefined || shouldStop() || (canStart() && inFlight < Math.max(1, limit())));
      if (failed) throw failed.error;
      if (shouldStop()) break;
      inFlight++;
      const started = task(item, index).finally(() => void inFlight--);
      // Observed at once: a failure stops the window instead of going unhandled.
      started.catch((error: unknown) => {
        failed ??= { error };
      });
      running.push(started);
    }
    await Promise.all(running);
  } catch (err) {
    // Runs recorded before this patch left started tasks running here; replay them that way.
    if (patched(SETTLE_STARTED_TASKS_PATCH)) await Promise.allSettled(running);
    throw err;
  }
}
