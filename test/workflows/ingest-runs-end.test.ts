/**
 * Every ingestion ends: a batch write that fails for good fails the run (recorded, and the
 * script can be ingested again), and a cancel at any point ends the run `cancelled` only after
 * the LLM calls it had in flight have stopped. Real dev server, Postgres and simulator; the
 * one injected part is a main-queue activity that always fails.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { SimulatorStats } from '../../src/llm/simulator';
import { ingestionWorkflowId, type IngestionResult } from '../../src/shared/ingestion';
import { createMainActivities } from '../../src/activities';
import { ingestScript } from '../../src/workflows';
import type { IngestScriptInput } from '../../src/workflows/ingest-script';
import { holdFirstCall } from '../helpers/held-call';
import { useTestStack, type RunningApp } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { waitFor } from '../helpers/wait';

/** A run that has not ended by then is hung (each run here needs a few seconds). */
const HANG_BOUND_MS = 30_000;
const WRITE_FAILURE = 'simulated: the database refused the summary batch';
const SHEET_WRITE_FAILURE = 'simulated: the database refused the sheet batch';

const stack = useTestStack('runs-end');
let failingWrites: RunningApp;
let failingSheetWrites: RunningApp;
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

beforeAll(async () => {
  failingWrites = await stack.startApp('runs-end-failing-writes', {
    async saveSceneSummaries() {
      throw ApplicationFailure.nonRetryable(WRITE_FAILURE, 'SimulatedWriteFailure');
    },
  });
  failingSheetWrites = await stack.startApp('runs-end-failing-sheet-writes', {
    async saveCharacterSheets() {
      throw ApplicationFailure.nonRetryable(SHEET_WRITE_FAILURE, 'SimulatedWriteFailure');
    },
  });
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

const start = (on: RunningApp, scriptId: string, extra: Partial<IngestScriptInput> = {}) =>
  stack.env.client.workflow.start(ingestScript, {
    taskQueue: on.taskQueue,
    workflowId: ingestionWorkflowId(scriptId),
    args: [{ scriptId, mode: 'full', ...extra }],
  });

/** The run's outcome, or an error saying it hung (the run is then terminated). */
async function outcome(handle: WorkflowHandle<typeof ingestScript>): Promise<IngestionResult | unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HANG_BOUND_MS)));
  const ended = handle.result().catch((err: unknown) => err);
  const first = await Promise.race([ended, hung]);
  clearTimeout(timer);
  if (first === 'hung') {
    await handle.terminate('hung in a test').catch(() => undefined);
    throw new Error(`${handle.workflowId} did not end within ${HANG_BOUND_MS} ms`);
  }
  return first;
}

const runRow = async (scriptId: string) =>
  (await stack.app.services.db.query('SELECT status, result, failures FROM ingestion_runs WHERE script_id = $1 ORDER BY started_at DESC LIMIT 1', [scriptId]))[0];
const reportOf = async (handle: { firstExecutionRunId: string }) =>
  (await stack.app.services.db.query('SELECT status, report FROM run_reports WHERE first_run_id = $1', [handle.firstExecutionRunId]))[0];
const workflowTaskFailures = async (handle: WorkflowHandle) =>
  (await handle.fetchHistory()).events?.filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes?.failure?.message) ?? [];

it('a batch write that always fails ends the run failed, with the error recorded; the script can be ingested again', async () => {
  const script = await importSynthetic(stack.app.services.db, 12, 2, title('WriteFails'));
  // Calls still in flight when the first batch fails: the failure lands mid-window.
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 200 } } } });
  const handle = await start(failingWrites, script.scriptId, { writeBatchSize: 2, concurrency: { summaries: 2, sheets: 2 } });
  const err = await outcome(handle);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).cause?.message ?? (err as WorkflowFailedError).cause?.message).toContain(WRITE_FAILURE);
  expect(await workflowTaskFailures(handle)).toEqual([]);

  const row = await runRow(script.scriptId);
  expect(row.status).toBe('failed');
  expect(row.result.error).toMatchObject({ type: 'SimulatedWriteFailure' });
  expect(row.result.error.message).toContain(WRITE_FAILURE);
  expect(row.failures).toEqual(expect.arrayContaining([expect.objectContaining({ phase: 'summaries', errorType: 'SimulatedWriteFailure' })]));
  const report = await reportOf(handle);
  expect(report.status).toBe('failed');
  expect(report.report.error.message).toContain(WRITE_FAILURE);

  const again = await start(stack.app, script.scriptId);
  const result = (await outcome(again)) as IngestionResult;
  expect(result.status).toBe('completed');
  expect(result.phases.summaries.done).toBe(12);
});

it('a sheet batch that fails for good stops the sheets: none is paid for after it, and the run ends failed', async () => {
  // 60 speakers: the first batch of sheets (50 rows) is written while the others are still to come.
  const script = await importSynthetic(stack.app.services.db, 60, 60, title('SheetWriteFails'));
  stack.sim.configure({ latency: { byPurpose: { sheet: { fixedMs: 100 } } } });
  const handle = await start(failingSheetWrites, script.scriptId, { concurrency: { summaries: 10, sheets: 2 } });
  const err = await outcome(handle);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(await workflowTaskFailures(handle)).toEqual([]);
  // The 50th sheet's batch failed; the two slots' sheets already started may finish, no more.
  const sheets = stack.sim.stats().byPurpose.sheet?.requests ?? 0;
  expect(sheets).toBeGreaterThanOrEqual(50);
  expect(sheets).toBeLessThan(60);
  const row = await runRow(script.scriptId);
  expect(row.status).toBe('failed');
  expect(row.result.error.message).toContain(SHEET_WRITE_FAILURE);
  expect(row.failures).toEqual(expect.arrayContaining([expect.objectContaining({ phase: 'sheets', errorType: 'SimulatedWriteFailure' })]));
});

it('a cancel that lands during the last write before continue-as-new ends the run cancelled, not the next run', async () => {
  const script = await importSynthetic(stack.app.services.db, 8, 3, title('CancelInLastWrite'));
  const lastWrite = holdFirstCall(createMainActivities(stack.app.services).saveSceneSummaries);
  // The first run's rows are all held for its last write (writeBatchSize 100): that write waits for the cancel.
  const slowLastWrite = await stack.startApp('runs-end-slow-last-write', { saveSceneSummaries: lastWrite.activity });
  const handle = await start(slowLastWrite, script.scriptId, { scenesPerRun: 4, writeBatchSize: 100, concurrency: { summaries: 2, sheets: 2 } });
  await lastWrite.inCall;
  await handle.cancel();
  lastWrite.release();

  const err = await outcome(handle);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect((await workflowTaskFailures(handle)).filter((m) => /nondetermin/i.test(m ?? ''))).toEqual([]);
  // The first run's scenes only: no run continued after the cancel.
  expect(stack.sim.stats().byPurpose.summary?.requests).toBe(4);
  expect((await runRow(script.scriptId)).status).toBe('cancelled');
  const stored = await stack.app.services.db.query('SELECT count(*)::int AS n FROM scene_summaries ss JOIN scenes s ON s.id = ss.scene_id WHERE s.script_id = $1', [script.scriptId]);
  expect(stored[0].n).toBe(4);
});

/** Where in a run the cancel lands: a predicate on what the simulator has seen so far. */
interface CancelPoint {
  name: string;
  flags?: IngestScriptInput['flags'];
  when: (s: SimulatorStats) => boolean;
  /** The phase the cancel cuts short: its reported time is real (not 0). */
  cutShort: 'summaries' | 'phase2';
}

const inFlight = (s: SimulatorStats) => s.currentConcurrent > 0;
const CANCEL_POINTS: CancelPoint[] = [
  { name: 'phase 1, first calls in flight', when: (s) => inFlight(s) && (s.byPurpose.summary?.ok ?? 0) === 0, cutShort: 'summaries' },
  { name: 'phase 1, after 3 summaries', when: (s) => inFlight(s) && (s.byPurpose.summary?.ok ?? 0) >= 3, cutShort: 'summaries' },
  { name: 'phase 1, after 7 summaries', when: (s) => inFlight(s) && (s.byPurpose.summary?.ok ?? 0) >= 7, cutShort: 'summaries' },
  { name: 'phase 2, first calls in flight', when: (s) => inFlight(s) && (s.byPurpose.sheet?.requests ?? 0) >= 1 && (s.byPurpose.sheet?.ok ?? 0) === 0, cutShort: 'phase2' },
  { name: 'phase 2, after 2 sheets', when: (s) => inFlight(s) && (s.byPurpose.sheet?.ok ?? 0) >= 2, cutShort: 'phase2' },
  { name: 'phase 2 one step at a time, outline in flight', flags: { parallelPhase2: false }, when: (s) => inFlight(s) && (s.byPurpose.outline?.requests ?? 0) >= 1, cutShort: 'phase2' },
  { name: 'phase 2 one step at a time, embeddings in flight', flags: { parallelPhase2: false }, when: (s) => inFlight(s) && (s.byPurpose.embedding?.requests ?? 0) >= 1, cutShort: 'phase2' },
];

it.each(CANCEL_POINTS)('a cancel at "$name" ends the run cancelled after its calls have stopped', async (point) => {
  const script = await importSynthetic(stack.app.services.db, 10, 4, title('CancelLoop'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 700 }, outline: { fixedMs: 1500 }, sheet: { fixedMs: 700 }, embedding: { fixedMs: 1500 } } } });
  const handle = await start(stack.app, script.scriptId, { concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2, flags: point.flags });
  await waitFor(() => point.when(stack.sim.stats()));
  await handle.cancel();

  const err = await outcome(handle);
  // Nothing the run started is still talking to the provider once the run has closed.
  expect(stack.sim.stats().currentConcurrent).toBe(0);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(await workflowTaskFailures(handle)).toEqual([]);
  const row = await runRow(script.scriptId);
  expect(row.status).toBe('cancelled');
  expect(row.result.timingsMs[point.cutShort]).toBeGreaterThan(0);
});

it('a cancelled run reports the time its phases really took, and no negative overhead', async () => {
  const script = await importSynthetic(stack.app.services.db, 12, 3, title('CancelReport'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 400 }, sheet: { fixedMs: 1500 }, outline: { fixedMs: 1500 }, embedding: { fixedMs: 1500 } } } });
  const handle = await start(stack.app, script.scriptId, { concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2 });
  await waitFor(() => (stack.sim.stats().byPurpose.sheet?.requests ?? 0) >= 1);
  await handle.cancel();
  expect((await outcome(handle)) as WorkflowFailedError).toBeInstanceOf(WorkflowFailedError);

  const { result } = await runRow(script.scriptId);
  const t = result.timingsMs;
  // Phase 1 ran to its end; phase 2 and each of its steps were cut short by the cancel.
  expect(t.summaries).toBeGreaterThan(0);
  for (const phase of ['phase2', 'outline', 'sheets', 'embeddings']) expect(t[phase]).toBeGreaterThan(0);
  expect(t.summaries + t.phase2).toBeLessThanOrEqual(t.total);
  const { report } = await reportOf(handle);
  expect(report.status).toBe('cancelled');
  expect(report.phasesMs).toMatchObject({ summaries: t.summaries, phase2: t.phase2 });
  expect(report.criticalPath.overheadMs).toBeGreaterThanOrEqual(0);
});

it('a cancel in phase 1 reports phase 1 up to the cancel, and phase 2 as never started', async () => {
  const script = await importSynthetic(stack.app.services.db, 12, 3, title('CancelReport1'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 700 } } } });
  const handle = await start(stack.app, script.scriptId, { concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2 });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 3 && stack.sim.stats().currentConcurrent > 0);
  await handle.cancel();
  expect((await outcome(handle)) as WorkflowFailedError).toBeInstanceOf(WorkflowFailedError);

  const { result } = await runRow(script.scriptId);
  expect(result.timingsMs.summaries).toBeGreaterThan(0);
  expect(result.timingsMs.summaries).toBeLessThanOrEqual(result.timingsMs.total);
  expect(result.timingsMs).toMatchObject({ phase2: 0, outline: 0, sheets: 0, embeddings: 0 });
  const { report } = await reportOf(handle);
  expect(report.phasesMs.summaries).toBe(result.timingsMs.summaries);
  expect(report.criticalPath.overheadMs).toBeGreaterThanOrEqual(0);
});
