/**
 * A hint when an answer is slow to come: a turn waits for a worker to take it, and with none
 * running the command would wait in silence for as long as the user lets it.
 */

/** How long a turn waits for its first sign of life before the hint. */
export const SLOW_ANSWER_HINT_MS = 10_000;

/**
 * Awaits `waiting()`; when neither it nor `alive()` (e.g. the reply's stream started, or a worker
 * answers for the run) has answered after `afterMs`, writes `hint` once to stderr and keeps waiting.
 */
export async function withSlowAnswerHint<T>(
  hint: string,
  waiting: () => Promise<T>,
  alive: () => boolean | Promise<boolean> = () => false,
  afterMs = SLOW_ANSWER_HINT_MS,
): Promise<T> {
  let settled = false;
  const timer = setTimeout(() => {
    // A check that fails counts as no sign of life; the hint's write cannot fail the wait.
    Promise.resolve()
      .then(alive)
      .catch(() => false)
      .then((isAlive) => {
        if (!isAlive && !settled) process.stderr.write(`\n${hint}\n`);
      })
      .catch(() => undefined);
  }, afterMs);
  try {
    return await waiting();
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}
