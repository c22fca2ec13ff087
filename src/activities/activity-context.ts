import { Context } from '@temporalio/activity';
import type { CallContext } from '../llm/llm-service';
import { DEFAULT_RATE_LIMIT_DEADLINE_MS } from '../shared/failure-types';
import { scopeOf } from '../observability/activity-scope';

/** Progress an activity saves in its heartbeats, so a retry resumes instead of starting over. */
export interface ActivityProgress<D> {
  /** What the previous attempt saved last (undefined on a first attempt). */
  previous: D | undefined;
  /** Sends `details` with a heartbeat now and with every heartbeat after it. */
  save(details: D): void;
}

/** What an attempt keeps for its work after a rate-limited call's last wait (the call log, a write). */
const ATTEMPT_MARGIN_MS = 10_000;

/**
 * Runs `fn` with the activity's identity and cancellation signal, heartbeating meanwhile:
 * a cancellation reaches an activity only through a heartbeat's response, and the signal then
 * aborts the HTTP request in flight. Heartbeats carry the progress `fn` saved.
 */
export async function withActivityContext<T, D = unknown>(
  fn: (ctx: CallContext, progress: ActivityProgress<D>) => Promise<T>,
  opts: {
    heartbeatEveryMs?: number;
    /** When the run stops waiting out rate limits (ingestion: the run's start + the deadline). */
    deadlineAt?: number;
    /** Without `deadlineAt`: how long from the activity's first scheduling (the route's STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS). */
    rateLimitDeadlineMs?: number;
    /** The run pauses itself on a provider outage (ingestion's LLM activities): see CallContext. */
    pausesOnOutage?: boolean;
  } = {},
): Promise<T> {
  const activity = Context.current();
  const { info } = activity;
  // A rate-limited call may wait inside this attempt while its start-to-close limit allows,
  // less a margin for the writes after it; then Temporal's next attempt takes over.
  const attemptEndsAt = Date.now() + info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS;
  // Jobs that pass no deadline (all but ingestion, and ingestion runs of earlier releases): from
  // the activity's first scheduling, as long as the route says (routes of earlier releases: 6 h).
  const runDeadlineAt = opts.deadlineAt ?? info.scheduledTimestampMs + (opts.rateLimitDeadlineMs ?? DEFAULT_RATE_LIMIT_DEADLINE_MS);
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
    return await fn(
      { ...scopeOf(info), signal: activity.cancellationSignal, nextCallIndex: () => calls++, runDeadlineAt, attemptEndsAt, ...(opts.pausesOnOutage ? { pausesOnOutage: true } : {}) },
      progress,
    );
  } catch (err) {
    // An abort caused by cancellation is reported as the cancellation itself.
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    throw err;
  } finally {
    clearInterval(timer);
  }
}
