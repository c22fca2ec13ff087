import { condition } from '@temporalio/workflow';

/**
 * Runs `task` over `items` with at most `limit()` in flight: a finished task frees its slot at
 * once (no waiting for the slowest of a batch). `limit` and `canStart` are re-read before each
 * start, so signals can change concurrency, pause, or stop the window. `task` must handle its
 * own errors; the window resolves when every started task has settled.
 */
export async function slidingWindow<T>(
  items: readonly T[],
  limit: () => number,
  task: (item: T) => Promise<void>,
  canStart: () => boolean = () => true,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let inFlight = 0;
  const running: Promise<void>[] = [];
  for (const item of items) {
    await condition(() => shouldStop() || (canStart() && inFlight < Math.max(1, limit())));
    if (shouldStop()) break;
    inFlight++;
    running.push(task(item).finally(() => void inFlight--));
  }
  await Promise.all(running);
}
