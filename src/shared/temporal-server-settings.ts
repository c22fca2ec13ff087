/**
 * Temporal server settings (dynamic config) that take the server's own waits off every LLM
 * call's critical path, and let interactive jobs go ahead of bulk ones. Every dev server the
 * project starts uses them (scripts/temporal.sh — keep its flags in step — the bench, the chaos
 * runs, the tests); README "Deploying" recommends them for a production server. Measured on S3
 * (README "Benchmark"): activity schedule→start 31 → 5 ms, sticky workflow task dispatch 10 →
 * 1.5 ms.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  // A shard's transfer queue (activity and workflow tasks on their way to matching) reads new
  // tasks at most this often: the default 20/s makes each dispatch wait ~25 ms on average, and
  // one workflow's tasks all live on one shard. Reads still happen only when tasks are written.
  'history.transferProcessorMaxPollRPS': 200,
  // One partition per task queue: a task then always meets the waiting poll (the default 4 split
  // polls and tasks, and a task on a partition without a poll waits for forwarding or a backlog
  // read). storyloom's queues carry at most a few hundred tasks a second.
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  // The matcher that serves a queue's backlog by priority (src/shared/job-priority.ts): without
  // it a session's turn waits behind every summary a wide ingestion window has queued. Newer
  // servers use it by default; 1.29 (the CLI's dev server) needs it asked for.
  'matching.useNewMatcher': true,
};

/** The settings as `temporal server start-dev` arguments. */
export function dynamicConfigArgs(values: Readonly<Record<string, number | boolean>> = DEV_SERVER_DYNAMIC_CONFIG): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]);
}
