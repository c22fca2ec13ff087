/**
 * One measured ingestion: start the app's `ingestScript` workflow, wait for its result, and read
 * what it cost — provider requests and 429s (simulator stats delta), database statements and
 * commits (`run_db_stats`, when the worker fills it), and Temporal history (every run of the chain).
 */
import type { AppServices } from '../src/runtime';
import type { LatencyDraw, SimulatorStats, RouteStats } from '../src/llm/simulator';
import { runSpan, type RunSpan } from './phases';
import { ingestionWorkflowId, type IngestionConcurrency, type IngestionFlags, type IngestionMode, type IngestionResult } from '../src/shared/ingestion';
import type { ingestScript } from '../src/workflows/ingest-script';
import type { BenchApp, BenchEnv } from './env';
import { chainHistory, type ChainHistory } from './history';
import { wireDelta, type WireCounts } from './pg-counter';

export interface SimDelta {
  requests: number;
  ok: number;
  rateLimited: number;
  errors: number;
  byPurpose: Record<string, number>;
  embeddingInputs: number;
  anthropicBusyMs: number;
  openaiBusyMs: number;
  peakConcurrent: number;
}

export function simDelta(before: SimulatorStats, after: SimulatorStats): SimDelta {
  const errs = (s: RouteStats) => Object.values(s.errors).reduce((a, b) => a + b, 0);
  const purposes = new Set([...Object.keys(before.byPurpose), ...Object.keys(after.byPurpose)]);
  const byPurpose: Record<string, number> = {};
  for (const p of purposes) {
    const n = (after.byPurpose[p]?.requests ?? 0) - (before.byPurpose[p]?.requests ?? 0);
    if (n) byPurpose[p] = n;
  }
  const totalErrors = (s: SimulatorStats) => Object.values(s.byProvider).reduce((a, r) => a + errs(r), 0);
  return {
    requests: after.totalRequests - before.totalRequests,
    ok: after.ok - before.ok,
    rateLimited: after.rateLimited - before.rateLimited,
    errors: totalErrors(after) - totalErrors(before),
    byPurpose,
    embeddingInputs: (after.byPurpose.embedding?.embeddingInputs ?? 0) - (before.byPurpose.embedding?.embeddingInputs ?? 0),
    anthropicBusyMs: after.byProvider.anthropic.busyMs - before.byProvider.anthropic.busyMs,
    openaiBusyMs: after.byProvider.openai.busyMs - before.byProvider.openai.busyMs,
    peakConcurrent: after.peakConcurrent,
  };
}

export interface DbCost {
  queries: number;
  commits: number;
}

/**
 * Statements and commits the worker charged to these runs in `run_db_stats`; null ("n/a") when
 * the table or the recorder is not there. Reading it is never charged to a run (outside activities).
 */
export async function readDbCost(services: AppServices, workflowIds: string[], runIds: string[]): Promise<DbCost | null> {
  const recorder = (services as { dbStats?: { flush?: () => Promise<void> } }).dbStats;
  try {
    await recorder?.flush?.();
  } catch {
    // counted as n/a below if nothing arrived
  }
  try {
    const [{ t }] = await services.db.query(`SELECT to_regclass('run_db_stats')::text AS t`);
    if (!t) return null;
    const [row] = await services.db.query(
      `SELECT coalesce(sum(queries), 0) AS q, coalesce(sum(commits), 0) AS c, count(*) AS n
         FROM run_db_stats WHERE workflow_id = ANY($1::text[]) AND run_id = ANY($2::text[])`,
      [workflowIds, runIds],
    );
    if (!recorder && Number(row.n) === 0) return null;
    return { queries: Number(row.q), commits: Number(row.c) };
  } catch {
    return null;
  }
}

export interface IngestMeasure {
  workflowId: string;
  firstRunId: string;
  wallMs: number;
  result: IngestionResult;
  sim: SimDelta;
  chain: ChainHistory;
  /** What the worker charged to the run in run_db_stats (the app's own accounting). */
  db: DbCost | null;
  /** Every statement and commit the app sent to Postgres while the run ran (the wire counter). */
  wire: WireCounts;
  /** The latencies the simulator drew for the run's requests. */
  draws: LatencyDraw[];
  /** Start (before the workflow is started) and end (the result at the client), on the draws' clock. */
  span: RunSpan;
}

export interface IngestRequest {
  scriptId: string;
  mode: IngestionMode;
  flags?: Partial<IngestionFlags>;
  concurrency?: Partial<IngestionConcurrency>;
}

/** Starts the ingestion (the CLI's workflow id) and resolves when it is done; wall = start → result. */
export async function startIngest(env: BenchEnv, app: BenchApp, req: IngestRequest) {
  const workflowId = ingestionWorkflowId(req.scriptId);
  const t0 = performance.now();
  const handle = await env.client.workflow.start<typeof ingestScript>('ingestScript', {
    taskQueue: app.taskQueue,
    workflowId,
    args: [{ scriptId: req.scriptId, mode: req.mode, flags: req.flags, concurrency: req.concurrency }],
  });
  // A report must end: a run that hangs is terminated and reported as failed (STORYLOOM_BENCH_TIMEOUT_S, default 1800).
  const limitMs = Number(process.env.STORYLOOM_BENCH_TIMEOUT_S || 1800) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void handle.terminate('benchmark timeout').catch(() => undefined);
      reject(new Error(`${workflowId} did not finish within ${limitMs / 1000} s (terminated)`));
    }, limitMs);
  });
  const done = Promise.race([handle.result(), timeout])
    .then((result) => ({ result, wallMs: performance.now() - t0, endedAt: performance.now() }))
    .finally(() => clearTimeout(timer));
  return { workflowId, firstRunId: handle.firstExecutionRunId, t0, done };
}

export async function costOf(env: BenchEnv, app: BenchApp, workflowId: string, firstRunId: string) {
  const chain = await chainHistory(env.client, workflowId, firstRunId);
  const db = await readDbCost(app.services, [workflowId], chain.runs.map((r) => r.runId));
  return { chain, db };
}

/**
 * Marks where a run's database and provider work begins: buffered writes of earlier runs are
 * flushed first, so the wire counts between `start()` and `end()` are this run's alone (runs
 * measured this way must not overlap). `end()` flushes the run's own buffered writes (cache
 * entries, call-log rows, statistics) before reading the counter.
 */
export async function workWindow(env: BenchEnv, app: BenchApp) {
  await app.services.flushRecorders();
  await app.services.llm.settle();
  const wire0 = env.pgCounter.counts();
  const draw0 = app.sim.latencies().at(-1)?.seq ?? 0;
  return {
    async end(): Promise<{ wire: WireCounts; draws: LatencyDraw[] }> {
      const draws = app.sim.latencies(draw0);
      await app.services.llm.settle();
      await app.services.flushRecorders();
      return { wire: wireDelta(wire0, env.pgCounter.counts()), draws };
    },
  };
}

/**
 * Called at the run's own edges: `onStart` just before the workflow is started (after the
 * window's start flush), `onEnded` the moment its result is at the client — before the window's
 * end flush and before the history is fetched and walked (costOf), which are the bench's work.
 */
export interface RunHooks {
  onStart?: () => void;
  onEnded?: () => void;
}

export async function measureIngest(env: BenchEnv, app: BenchApp, req: IngestRequest, hooks: RunHooks = {}): Promise<IngestMeasure> {
  const window = await workWindow(env, app);
  const before = app.sim.stats();
  hooks.onStart?.();
  const started = await startIngest(env, app, req);
  const { result, wallMs, endedAt } = await started.done;
  hooks.onEnded?.();
  const after = app.sim.stats();
  const { wire, draws } = await window.end();
  const { chain, db } = await costOf(env, app, started.workflowId, started.firstRunId);
  return { workflowId: started.workflowId, firstRunId: started.firstRunId, wallMs, result, sim: simDelta(before, after), chain, db, wire, draws, span: runSpan(started.t0, endedAt) };
}
