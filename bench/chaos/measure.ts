/** What a case is judged by, read from the database and the simulator after the run. */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { SimulatorStats } from '../../src/llm/simulator';
import { LlmFailureType } from '../../src/shared/failure-types';
import type { FaultRecord } from './cases';
import type { ChaosStack } from './stack';
import type { ChaosWorker } from './worker-process';

export interface DbCheck {
  scenes: number;
  characters: number;
  /** Items without their result: scenes without summary or embedding, characters without sheet, a missing outline. */
  missing: { summaries: number; embeddings: number; sheets: number; outline: number };
  /** Rows beyond one per item (summaries, embeddings, sheets, outline), repeated call keys, repeated run rows. */
  duplicated: number;
  /** llm_calls rows of this workflow by outcome. */
  calls: Record<string, number>;
  /** llm_calls rows of answers the provider finished (billed): outcome ok, or an unusable answer (LlmInvalidOutput, tokens recorded). */
  paidLogged: number;
  /**
   * Activities, by type, whose first attempts left no llm_calls row at all (the first row has
   * attempt > 1): after a worker SIGKILL, the activities that were running on it — their calls
   * were open at the provider or answered but not yet reported, and are the calls the run repeats.
   */
  rowlessAttempts: Record<string, number>;
}

const n = (rows: { n: string | number }[]) => Number(rows[0]?.n ?? 0);

export async function checkDb(db: DataSource, scriptId: string, workflowId: string): Promise<DbCheck> {
  const q = (sql: string, params: unknown[] = [scriptId]) => db.query(sql, params);
  const scenes = n(await q('SELECT count(*) AS n FROM scenes WHERE script_id = $1'));
  const characters = n(await q('SELECT count(*) AS n FROM characters WHERE script_id = $1'));
  const per = async (table: string, key: string, parent: string) => {
    const [row] = await q(
      `SELECT count(*) AS rows, count(DISTINCT t.${key}) AS items FROM ${table} t JOIN ${parent} p ON p.id = t.${key} WHERE p.script_id = $1`,
    );
    return { rows: Number(row.rows), items: Number(row.items) };
  };
  const summaries = await per('scene_summaries', 'scene_id', 'scenes');
  const embeddings = await per('scene_embeddings', 'scene_id', 'scenes');
  const sheets = await per('character_sheets', 'character_id', 'characters');
  const outlines = n(await q('SELECT count(*) AS n FROM script_outlines WHERE script_id = $1'));
  const { repeatedKeys, calls, paidLogged, rowlessAttempts } = await checkCallLog(db, workflowId);
  const repeatedRuns = n(await q('SELECT count(*) - count(DISTINCT run_id) AS n FROM ingestion_runs WHERE script_id = $1'));
  return {
    paidLogged,
    rowlessAttempts,
    scenes,
    characters,
    missing: {
      summaries: scenes - summaries.items,
      embeddings: scenes - embeddings.items,
      sheets: characters - sheets.items,
      outline: outlines > 0 ? 0 : 1,
    },
    duplicated:
      summaries.rows - summaries.items + (embeddings.rows - embeddings.items) + (sheets.rows - sheets.items) + Math.max(0, outlines - 1) + repeatedKeys + repeatedRuns,
    calls,
  };
}

/** A run's call log (llm_calls of `workflowId`): repeated call keys, rows by outcome, billed answers logged, activities whose first attempts left no row. */
export async function checkCallLog(
  db: DataSource,
  workflowId: string,
): Promise<{ repeatedKeys: number } & Pick<DbCheck, 'calls' | 'paidLogged' | 'rowlessAttempts'>> {
  const q = (sql: string, params: unknown[] = [workflowId]) => db.query(sql, params);
  const repeatedKeys = n(
    await q('SELECT count(call_key) - count(DISTINCT call_key) AS n FROM llm_calls WHERE workflow_id = $1', [workflowId]),
  );
  const calls: Record<string, number> = {};
  for (const row of await q('SELECT outcome, count(*) AS n FROM llm_calls WHERE workflow_id = $1 GROUP BY outcome', [workflowId])) {
    calls[row.outcome as string] = Number(row.n);
  }
  const paidLogged = n(
    await q("SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1 AND (outcome = 'ok' OR (outcome = 'error' AND error_type = $2))", [
      workflowId,
      LlmFailureType.InvalidOutput,
    ]),
  );
  const rowlessAttempts: Record<string, number> = {};
  const rowless = await q(
    `SELECT activity_type AS type, count(*) AS n FROM (
       SELECT activity_type, min(attempt) AS first FROM llm_calls WHERE workflow_id = $1 AND activity_id IS NOT NULL GROUP BY run_id, activity_id, activity_type
     ) a WHERE first > 1 GROUP BY activity_type`,
    [workflowId],
  );
  for (const row of rowless) rowlessAttempts[row.type as string] = Number(row.n);
  return { repeatedKeys, calls, paidLogged, rowlessAttempts };
}

/** Purposes of the paid calls (a screenplay's token count, `screenplay.count`, is free and logs no row). */
export const PURPOSES = ['summary', 'outline', 'sheet', 'embedding', 'synthesis', 'screenplay', 'session', 'session-summary'] as const;

/** Requests per purpose that reached the simulator, and the 200 answers it finished (schema-breaking ones included: they are billed too). */
export function simCalls(stats: SimulatorStats): { requests: Record<string, number>; paid: Record<string, number>; errors: Record<string, number> } {
  const requests: Record<string, number> = {};
  const paid: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const p of PURPOSES) {
    const s = stats.byPurpose[p];
    requests[p] = s?.requests ?? 0;
    paid[p] = s?.ok ?? 0;
    for (const [kind, count] of Object.entries(s?.errors ?? {})) errors[kind] = (errors[kind] ?? 0) + count;
  }
  return { requests, paid, errors };
}

export const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What a case's run ended as, for the report. */
export interface RunOutcome {
  status?: string;
  error?: string;
}

/** A run's result as a case's status and error: its error, or its first two failures by `describeFailure`. */
export function runResultOutcome<F>(describeFailure: (f: F) => string) {
  return (result: { status: string; error?: { type: string; message: string }; failureCount: number; failures: F[] }): RunOutcome => {
    if (result.error) return { status: result.status, error: `${result.error.type}: ${result.error.message}` };
    if (result.failureCount) return { status: result.status, error: result.failures.slice(0, 2).map(describeFailure).join('; ') };
    return { status: result.status };
  };
}

/**
 * Waits for a case's run until `deadlineMs` and writes its status and error into `out`: what
 * `describeResult` makes of the run's result (runResultOutcome for the jobs that report
 * failures), a workflow failure, or, at the deadline, what `atDeadline` says, after which the
 * run is terminated. Returns the result when the run ended by itself.
 */
export async function awaitCaseRun<R>(
  handle: WorkflowHandle,
  deadlineMs: number,
  out: RunOutcome,
  describeResult: (r: R) => RunOutcome,
  atDeadline: () => RunOutcome = () => ({ status: `not finished in ${Math.round(deadlineMs / 1000)} s` }),
): Promise<R | undefined> {
  try {
    const outcome = await Promise.race([
      (handle.result() as Promise<R>).then((r) => ({ r })),
      sleep(deadlineMs).then(() => ({ timeout: true as const })),
    ]);
    if ('r' in outcome) {
      Object.assign(out, describeResult(outcome.r));
      return outcome.r;
    }
    Object.assign(out, atDeadline());
    await handle.terminate('chaos: case deadline').catch(() => undefined);
  } catch (err) {
    out.status = err instanceof WorkflowFailedError ? 'failed' : 'error';
    out.error = err instanceof WorkflowFailedError ? `${err.cause?.name}: ${err.cause?.message}` : (err as Error).message;
  }
  return undefined;
}

/**
 * The worker-kill fault: SIGKILLs `workers[0]` and starts another on the same queue at once.
 * `inFlight` is what the simulator has open at the kill (the calls the kill can make repeat).
 */
export async function killAndRestartWorker(
  stack: ChaosStack,
  workers: ChaosWorker[],
  start: () => Promise<ChaosWorker>,
  now: () => number,
  note?: string,
): Promise<FaultRecord> {
  const inFlight = stack.sim.stats().currentConcurrent;
  const faultAt = now();
  await workers[0].kill();
  workers[0] = await start();
  return { faultAt, inFlight, restoredAt: now(), killedWorker: true, ...(note ? { note } : {}) };
}

/** ms from the repair to the first sample with more items done than at the repair (or to the run's end). */
export function recoveryMs(samples: { t: number; done: number }[], restoredAt: number, wallMs: number): number {
  const doneAtRepair = [...samples].reverse().find((s) => s.t <= restoredAt)?.done ?? 0;
  const next = samples.find((s) => s.t > restoredAt && s.done > doneAtRepair);
  return (next?.t ?? wallMs) - restoredAt;
}
