import { Context } from '@temporalio/activity';
import type { CallContext } from '../llm/llm-service';
import { scopeOf } from '../observability/activity-scope';

/**
 * Runs `fn` with the activity's identity and cancellation signal, heartbeating meanwhile:
 * a cancellation reaches an activity only through a heartbeat's response, and the signal then
 * aborts the HTTP request in flight.
 */
export async function withActivityContext<T>(
  fn: (ctx: CallContext) => Promise<T>,
  opts: { heartbeatEveryMs?: number } = {},
): Promise<T> {
  const activity = Context.current();
  const timer = setInterval(() => activity.heartbeat(), opts.heartbeatEveryMs ?? 1000);
  try {
    return await fn({ ...scopeOf(activity.info), signal: activity.cancellationSignal });
  } catch (err) {
    // An abort caused by cancellation is reported as the cancellation itself.
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    throw err;
  } finally {
    clearInterval(timer);
  }
}
