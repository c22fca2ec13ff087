import { Context } from '@temporalio/activity';
import type { CallContext } from '../llm/llm-service';
import { scopeOf } from '../observability/activity-scope';

/** Progress an activity saves in its heartbeats, so a retry resumes instead of starting over. */
export interface ActivityProgress<D> {
  /** What the previous attempt saved last (undefined on a first attempt). */
  previous: D | undefined;
  /** Sends `details` with a heartbeat now and with every heartbeat after it. */
  save(details: D): void;
}

/**
 * Runs `fn` with the activity's identity and cancellation signal, heartbeating meanwhile:
 * a cancellation reaches an activity only through a heartbeat's response, and the signal then
 * aborts the HTTP request in flight. Heartbeats carry the progress `fn` saved.
 */
export async function withActivityContext<T, D = unknown>(
  fn: (ctx: CallContext, progress: ActivityProgress<D>) => Promise<T>,
  opts: { heartbeatEveryMs?: number } = {},
): Promise<T> {
  const activity = Context.current();
  const previous = activity.info.heartbeatDetails as D | undefined;
  // Heartbeats carry the previous attempt's progress until this one saves its own, so a crash
  // before the first save does not lose it.
  let details: D | undefined = previous;
  const beat = () => activity.heartbeat(details);
  const timer = setInterval(beat, opts.heartbeatEveryMs ?? 1000);
  let calls = 0;
  const progress: ActivityProgress<D> = {
    previous,
    save(next) {
      details = next;
      beat();
    },
  };
  try {
    return await fn({ ...scopeOf(activity.info), signal: activity.cancellationSignal, nextCallIndex: () => calls++ }, progress);
  } catch (err) {
    // An abort caused by cancellation is reported as the cancellation itself.
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    throw err;
  } finally {
    clearInterval(timer);
  }
}
