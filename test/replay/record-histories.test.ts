/** Records the ingestion and smoke histories of this release (see recorder.ts). */
import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { createMainActivities } from '../../src/activities';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { ingestScript, pauseUpdate, progressQuery, resumeUpdate, setConcurrencyUpdate, smokeTest } from '../../src/workflows';
import { holdFirstCall } from '../helpers/held-call';
import { useTestStack } from '../helpers/harness';
import { importFixture, importSynthetic } from '../helpers/scripts';
import { recordAndReplay as record } from './recorder';
import { waitFor } from '../helpers/wait';

/** As the CLI starts an ingestion: with its search attributes (the flags-off scenario starts without, as a bare client may). */
const searchable = (title: string) => ({ typedSearchAttributes: storyloomSearchAttributes('ingest', title, 'running') });

const stack = useTestStack('record', { simulator: { latency: { default: { fixedMs: 5 } } } });
afterEach(() => stack.sim.configure({ faults: [], latency: { default: { fixedMs: 5 }, byPurpose: null } }));

const recordAndReplay = (name: string, workflowId: string, runId?: string) => record(stack.env.address, name, workflowId, runId);

it('records a full ingestion and replays it', async () => {
  const title = `Replay ${Date.now()}`;
  const script = await importFixture(stack.app.services.db, 'fountain/night-ferry.fountain', title);
  await stack.env.client.workflow.execute(ingestScript, { taskQueue: stack.app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }], ...searchable(title) });
  await recordAndReplay('ingest-full', ingestionWorkflowId(script.scriptId));
});

it('records a flags-off ingestion and replays it', async () => {
  const script = await importSynthetic(stack.app.services.db, 5, 3, `Replay seq ${Date.now()}`);
  await stack.env.client.workflow.execute(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', flags: { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: false } }],
  });
  await recordAndReplay('ingest-flags-off', ingestionWorkflowId(script.scriptId));
});

it('records an ingestion with a failed scene and replays it', async () => {
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'summary', contains: 'in scene 2 ' }] });
  const title = `Replay fail ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 4, 2, title);
  const result = await stack.env.client.workflow.execute(ingestScript, { taskQueue: stack.app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }], ...searchable(title) });
  expect(result.failureCount).toBe(1);
  await recordAndReplay('ingest-one-failure', ingestionWorkflowId(script.scriptId));
});

it('records every run of an ingestion that continues as new, and replays each', async () => {
  const title = `Replay can ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 7, 2, title);
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, {
    ...searchable(title),
    taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', scenesPerRun: 3, writeBatchSize: 2 }],
  });
  const result = await handle.result();
  expect(result.runs).toBe(3);
  // Each run's last event names the next run.
  let runId: string | undefined = handle.firstExecutionRunId;
  for (let run = 1; runId; run++) {
    const json = await recordAndReplay(`ingest-continue-as-new-run${run}`, workflowId, runId);
    const events = (JSON.parse(json) as { events: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId: string } }[] }).events;
    runId = events[events.length - 1].workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
});

it('records an ingestion paused and resumed by updates, and replays it', async () => {
  const title = `Replay pause ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 8, 2, title);
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  stack.sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, {
    ...searchable(title),
    taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 2, sheets: 2 } }],
  });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 2);
  expect((await handle.executeUpdate(pauseUpdate)).paused).toBe(true);
  await waitFor(async () => (await handle.query(progressQuery)).paused);
  await waitFor(() => stack.sim.stats().currentConcurrent === 0);
  expect((await handle.executeUpdate(resumeUpdate)).paused).toBe(false);
  expect((await handle.result()).status).toBe('completed');
  await recordAndReplay('ingest-pause-resume', workflowId);
});

it('records an ingestion whose concurrency an update widens (after refusing a bad value), and replays it', async () => {
  const title = `Replay widen ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 8, 2, title);
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  stack.sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, {
    ...searchable(title),
    taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 1, sheets: 1 } }],
  });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 1);
  await expect(handle.executeUpdate(setConcurrencyUpdate, { args: [{ summaries: 0 }] })).rejects.toThrow();
  expect((await handle.executeUpdate(setConcurrencyUpdate, { args: [{ summaries: 3, sheets: 2 }] })).concurrency).toEqual({ summaries: 3, sheets: 2 });
  expect((await handle.result()).status).toBe('completed');
  expect(stack.sim.stats().byPurpose.summary.peakConcurrent).toBe(3);
  await recordAndReplay('ingest-set-concurrency', workflowId);
});

it('records an ingestion cancelled mid-phase-1, and replays it', async () => {
  const title = `Replay cancel ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 20, 2, title);
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 1500 } } } });
  stack.sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, {
    ...searchable(title),
    taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2 }],
  });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 4);
  await waitFor(() => stack.sim.stats().currentConcurrent > 0);
  await handle.cancel();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 30_000)));
  const err = await Promise.race([handle.result().catch((e: unknown) => e), hung]);
  clearTimeout(timer);
  if (err === 'hung') await handle.terminate('hung in a test');
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const [row] = await stack.app.services.db.query('SELECT status FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(row.status).toBe('cancelled');
  await recordAndReplay('ingest-cancelled-phase1', workflowId);
});

it('records an ingestion cancelled while its first run writes its last rows, and replays it', async () => {
  const title = `Replay cancel in write ${Date.now()}`;
  const script = await importSynthetic(stack.app.services.db, 6, 2, title);
  const lastWrite = holdFirstCall(createMainActivities(stack.app.services).saveSceneSummaries);
  const slowLastWrite = await stack.startApp('record-slow-last-write', { saveSceneSummaries: lastWrite.activity });
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, {
    ...searchable(title),
    taskQueue: slowLastWrite.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', scenesPerRun: 3, writeBatchSize: 100 }],
  });
  await lastWrite.inCall;
  await handle.cancel();
  lastWrite.release();
  const err = await handle.result().catch((e: unknown) => e);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  await recordAndReplay('ingest-cancelled-in-last-write', workflowId, handle.firstExecutionRunId);
});

it('records a smoke run and replays it', async () => {
  const workflowId = `replay-smoke-${Date.now()}`;
  await stack.env.client.workflow.execute(smokeTest, { taskQueue: stack.app.taskQueue, workflowId, args: [{ prompt: 'Replay me.', useCache: false }] });
  await recordAndReplay('smoke', workflowId);
});

it('records an ingestion paused by a provider outage that resumes itself by a probe, and replays it', async () => {
  const script = await importSynthetic(stack.app.services.db, 20, 2, `Replay outage ${Date.now()}`);
  const workflowId = ingestionWorkflowId(script.scriptId);
  stack.sim.configure({ faults: [{ kind: 'http500', rate: 1 }] });
  const handle = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 5, sheets: 2 }, autoResume: { afterMs: 1000 } }],
  });
  await waitFor(async () => (await handle.query(progressQuery)).pauseReason, 30_000, 'paused by the outage');
  stack.sim.configure({ faults: [] });
  expect((await handle.result()).status).toBe('completed');
  await recordAndReplay('ingest-outage-auto-resume', workflowId);
});
