/**
 * The ingestion workflow on a real Temporal dev server, real Postgres and the simulator:
 * what it calls, in what order and parallelism, what it writes, and how it fails and stops.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ingestionWorkflowId, type IngestionFlags, type IngestionProgress } from '../../src/shared/ingestion';
import { queryProgress } from '../../src/operations/run-progress';
import { ingestScript, pauseSignal, progressQuery, resumeSignal, setConcurrencySignal } from '../../src/workflows';
import type { IngestScriptInput } from '../../src/workflows/ingest-script';
import { startApp, testConfig, useTestStack, type RunningApp } from '../helpers/harness';
import { forgetIngestionResults, importFixture, importSynthetic, importText } from '../helpers/scripts';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('ingest');
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

beforeEach(() => {
  stack.sim.configure({ faults: [], apiKeys: null, latency: null, limits: null });
  stack.sim.resetStats();
});

const start = (scriptId: string, extra: Partial<IngestScriptInput> = {}) =>
  stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(scriptId),
    args: [{ scriptId, mode: 'full', ...extra }],
  });
const run = async (scriptId: string, extra: Partial<IngestScriptInput> = {}) => (await start(scriptId, extra)).result();
const count = async (sql: string, params: unknown[]) => Number((await stack.app.services.db.query(sql, params))[0].n);
const summaries = (scriptId: string) =>
  count('SELECT count(*) AS n FROM scene_summaries ss JOIN scenes s ON s.id = ss.scene_id WHERE s.script_id = $1', [scriptId]);
/** The types of the local activities a history recorded (the SDK core's markers carry them as JSON). */
function localActivityTypes(events: { markerRecordedEventAttributes?: { markerName?: string | null; details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null } | null }[]): string[] {
  return events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      return String(data ? JSON.parse(Buffer.from(data).toString('utf8')).activity_type : '?');
    });
}

const ALL_OFF: IngestionFlags = { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: false };

it('ingests a real screenplay: summaries, outline, sheets and embeddings, each written once', async () => {
  const script = await importFixture(stack.app.services.db, 'fountain/night-ferry.fountain', title('Ferry'));
  const result = await run(script.scriptId);
  expect(result.status).toBe('completed');
  expect(result.phases.summaries).toMatchObject({ total: script.scenes, done: script.scenes, failed: 0, reused: 0 });
  expect(result.phases.outline).toMatchObject({ total: 1, done: 1 });
  const speakers = await count('SELECT count(DISTINCT character_id) AS n FROM scene_characters sc JOIN characters c ON c.id = sc.character_id WHERE c.script_id = $1', [script.scriptId]);
  expect(result.phases.sheets).toMatchObject({ total: speakers, done: speakers });
  expect(result.phases.embeddings).toMatchObject({ total: script.scenes, done: script.scenes });

  const stats = stack.sim.stats();
  expect(stats.byPurpose.summary.requests).toBe(script.scenes);
  expect(stats.byPurpose.outline.requests).toBe(1);
  expect(stats.byPurpose.sheet.requests).toBe(speakers);
  expect(stats.byPurpose.embedding.requests).toBe(1);
  expect(stats.byPurpose.embedding.embeddingInputs).toBe(script.scenes);

  expect(await summaries(script.scriptId)).toBe(script.scenes);
  expect(await count('SELECT count(*) AS n FROM script_outlines WHERE script_id = $1', [script.scriptId])).toBe(1);
  expect(await count('SELECT count(*) AS n FROM character_sheets cs JOIN characters c ON c.id = cs.character_id WHERE c.script_id = $1', [script.scriptId])).toBe(speakers);
  expect(await count('SELECT count(*) AS n FROM scene_embeddings se JOIN scenes s ON s.id = se.scene_id WHERE s.script_id = $1', [script.scriptId])).toBe(script.scenes);
  const [sheet] = await stack.app.services.db.query('SELECT sheet FROM character_sheets cs JOIN characters c ON c.id = cs.character_id WHERE c.script_id = $1 LIMIT 1', [script.scriptId]);
  expect(Object.keys(sheet.sheet).sort()).toEqual(['arc', 'goals', 'keyScenes', 'name', 'relationships', 'role', 'traits']);
  const [runRow] = await stack.app.services.db.query('SELECT status, result FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(runRow.status).toBe('completed');
  expect(runRow.result.phases.summaries.done).toBe(script.scenes);
});

it('with every flag off, calls one at a time in scene order (the seed\'s "before")', async () => {
  const script = await importSynthetic(stack.app.services.db, 6, 3, title('Sequential'));
  stack.sim.configure({ latency: { default: { fixedMs: 20 } } });
  const result = await run(script.scriptId, { flags: ALL_OFF });
  expect(result.status).toBe('completed');
  const stats = stack.sim.stats();
  expect(stats.peakConcurrent).toBe(1);
  expect(stats.byPurpose.embedding.requests).toBe(6); // one request per scene
  await stack.app.services.callLog.flush();
  const calls: { activity_id: string }[] = await stack.app.services.db.query(
    `SELECT activity_id FROM llm_calls WHERE workflow_id = $1 AND purpose = 'summary' ORDER BY id`,
    [ingestionWorkflowId(script.scriptId)],
  );
  const ids = calls.map((c) => Number(c.activity_id));
  expect(ids).toHaveLength(6);
  expect([...ids].sort((a, b) => a - b)).toEqual(ids);
});

it('keeps at most concurrency.summaries calls in flight, and uses them all', async () => {
  const script = await importSynthetic(stack.app.services.db, 24, 4, title('Window'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 60 } } } });
  const result = await run(script.scriptId, { concurrency: { summaries: 4, sheets: 2 } });
  expect(result.status).toBe('completed');
  const stats = stack.sim.stats();
  expect(stats.byPurpose.summary.peakConcurrent).toBe(4);
  expect(stats.byPurpose.sheet.peakConcurrent).toBeLessThanOrEqual(2);
});

it("writes a phase's last rows and the run's report as local activities, with nothing left unwritten", async () => {
  const script = await importSynthetic(stack.app.services.db, 30, 4, title('FinalWrites'));
  const handle = await start(script.scriptId, { writeBatchSize: 10 });
  const result = await handle.result();
  expect(result.status).toBe('completed');
  const events = (await handle.fetchHistory()).events ?? [];
  const patches = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
  expect(patches.length).toBeGreaterThan(0);
  const scheduled = (type: string) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
  // 20 to 29 rows had come back when the last scene started: two full batches of 10 as activities,
  // the rest with the plan of phase 2 in a local activity.
  expect(scheduled('saveSceneSummaries')).toBe(2);
  expect(scheduled('saveCharacterSheets')).toBe(0);
  expect(scheduled('storeRunReport')).toBe(0);
  // One local activity per step (patch start-and-phase2-plan-in-one-local-activity): the start, the
  // last summaries with phase 2's plan, the last sheets, and the run's row with its report.
  expect(localActivityTypes(events).sort()).toEqual(
    ['finishIngestionRun', 'saveCharacterSheets', 'saveSummariesAndPlanPhase2', 'startIngestion', 'storeRunReport'],
  );
  expect(await summaries(script.scriptId)).toBe(30);
  const speakers = result.phases.sheets.total;
  expect(speakers).toBeGreaterThan(0);
  expect(await count('SELECT count(*) AS n FROM character_sheets cs JOIN characters c ON c.id = cs.character_id WHERE c.script_id = $1', [script.scriptId])).toBe(speakers);
  expect(await count('SELECT count(*) AS n FROM run_reports WHERE first_run_id = $1', [handle.firstExecutionRunId])).toBe(1);
  // Every answered request is in the call log exactly once (the held rows carried theirs).
  expect(await count("SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1 AND outcome = 'ok'", [handle.workflowId])).toBe(stack.sim.stats().ok);
});

it('rides out a 429 storm, waiting what Retry-After says', async () => {
  const script = await importSynthetic(stack.app.services.db, 10, 3, title('Storm'));
  stack.sim.configure({ faults: [{ kind: 'http429', purpose: 'summary', times: 8, retryAfterMs: 300 }] });
  const result = await run(script.scriptId);
  expect(result.status).toBe('completed');
  expect(stack.sim.stats().rateLimited).toBe(8);
  expect(await summaries(script.scriptId)).toBe(10);
  await stack.app.services.callLog.flush();
  expect(await count(`SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1 AND error_type = 'LlmRateLimited'`, [ingestionWorkflowId(script.scriptId)])).toBe(8);
});

it('records a scene that fails for good and completes the rest ("completed with 1 failure")', async () => {
  const t = title('OneBad');
  const script = await importText(stack.app.services.db, syntheticScreenplay({ scenes: 8, characters: 3, title: t, salt: t }).replace('in scene 5 ', 'in scene 5 POISON-PILL '), { title: t });
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'summary', contains: 'POISON-PILL' }] });
  const result = await run(script.scriptId);
  expect(result.status).toBe('completed_with_failures');
  expect(result.failureCount).toBe(1);
  expect(result.failures[0]).toMatchObject({ phase: 'summaries', errorType: 'LlmInvalidRequest' });
  expect(result.failures[0].item).toContain('scene 5');
  expect(await summaries(script.scriptId)).toBe(7);
  expect(result.phases.embeddings.done).toBe(7);
  const [runRow] = await stack.app.services.db.query('SELECT status, failures FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(runRow.status).toBe('completed_with_failures');
  expect(runRow.failures).toHaveLength(1);
});

it('fails fast on bad credentials, with the message, before every scene has tried', async () => {
  const script = await importSynthetic(stack.app.services.db, 30, 3, title('BadKey'));
  stack.sim.configure({ apiKeys: { anthropic: 'a-different-key' }, latency: { default: { fixedMs: 20 } } });
  const err = await run(script.scriptId, { concurrency: { summaries: 3, sheets: 2 } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe('LlmAuthentication');
  expect(cause.message).toContain('ANTHROPIC_API_KEY');
  expect(stack.sim.stats().byPurpose.summary.requests).toBeLessThanOrEqual(3);
  const [runRow] = await stack.app.services.db.query('SELECT status FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(runRow.status).toBe('failed');
});

it('cancel mid-phase-1 keeps what was written, aborts calls in flight and marks the run cancelled', async () => {
  const script = await importSynthetic(stack.app.services.db, 40, 3, title('Cancel'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 2500 } } } });
  const handle = await start(script.scriptId, { concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2 });
  await waitFor(async () => (await summaries(script.scriptId)) >= 2);
  await waitFor(() => stack.sim.stats().currentConcurrent > 0);
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  await waitFor(() => stack.sim.stats().aborted >= 1);
  const written = await summaries(script.scriptId);
  expect(written).toBeGreaterThanOrEqual(2);
  expect(written).toBeLessThan(40);
  const [runRow] = await stack.app.services.db.query('SELECT status, result FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(runRow.status).toBe('cancelled');
  expect(runRow.result.phases.summaries.done).toBe(written);
  expect(stack.sim.stats().byPurpose.outline).toBeUndefined();
});

it('pause stops new calls (calls in flight finish); resume carries on', async () => {
  const script = await importSynthetic(stack.app.services.db, 12, 3, title('Pause'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  const handle = await start(script.scriptId, { concurrency: { summaries: 2, sheets: 2 } });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 2);
  await handle.signal(pauseSignal);
  await waitFor(async () => (await handle.query(progressQuery)).paused);
  await waitFor(() => stack.sim.stats().currentConcurrent === 0);
  const requestsWhenPaused = stack.sim.stats().byPurpose.summary.requests;
  const before = await queryProgress<IngestionProgress>(stack.env.client, handle, progressQuery);
  await new Promise((r) => setTimeout(r, 800));
  expect(stack.sim.stats().byPurpose.summary.requests).toBe(requestsWhenPaused);
  // The workflow's clock stands still while it is paused; the elapsed time a reader shows does not.
  const after = await queryProgress<IngestionProgress>(stack.env.client, handle, progressQuery);
  expect(after.progress!.elapsedMs - before.progress!.elapsedMs).toBeGreaterThanOrEqual(700);
  expect(requestsWhenPaused).toBeLessThan(12);
  await handle.signal(resumeSignal);
  const result = await handle.result();
  expect(result.status).toBe('completed');
  expect(stack.sim.stats().byPurpose.summary.requests).toBe(12);
  // A closed run is queried too (the API's run view): its progress says how it ended, and its
  // elapsed time is its own, not counted on from its start by the reader.
  const ended = await queryProgress<IngestionProgress>(stack.env.client, handle, progressQuery);
  expect(ended.progress).toMatchObject({ status: 'completed' });
  expect(ended.progress!.startedAt).toBeUndefined();
  await new Promise((r) => setTimeout(r, 300));
  expect((await queryProgress<IngestionProgress>(stack.env.client, handle, progressQuery)).progress!.elapsedMs).toBe(ended.progress!.elapsedMs);
});

it('setConcurrency widens the window of a running ingestion', async () => {
  const script = await importSynthetic(stack.app.services.db, 14, 3, title('Widen'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  const handle = await start(script.scriptId, { concurrency: { summaries: 1, sheets: 1 } });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 1);
  expect(stack.sim.stats().byPurpose.summary.peakConcurrent).toBe(1);
  await handle.signal(setConcurrencySignal, { summaries: 4 });
  const result = await handle.result();
  expect(result.status).toBe('completed');
  expect(stack.sim.stats().byPurpose.summary.peakConcurrent).toBe(4);
});

it('a window narrowed mid-run keeps the report\'s lower bound below what the run took', async () => {
  const script = await importSynthetic(stack.app.services.db, 16, 2, title('Narrow'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 200 } } } });
  const handle = await start(script.scriptId, { concurrency: { summaries: 8, sheets: 2 } });
  await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 1);
  await handle.signal(setConcurrencySignal, { summaries: 1 });
  expect((await handle.result()).status).toBe('completed');
  const [{ report }] = await stack.app.services.db.query('SELECT report FROM run_reports WHERE first_run_id = $1', [handle.firstExecutionRunId]);
  const summariesStep = report.criticalPath.steps.find((s: { name: string }) => s.name === 'summaries');
  // Eight ran at once before the narrowing: the bound is the 16 calls over 8 slots, not one at a time.
  expect(summariesStep.boundMs).toBeLessThan(16 * 200 / 4);
  expect(summariesStep.boundMs).toBeLessThanOrEqual(report.phasesMs.summaries);
});

it('refuses a second ingestion of the same script while one runs', async () => {
  const script = await importSynthetic(stack.app.services.db, 6, 2, title('Twice'));
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
  const first = await start(script.scriptId);
  await expect(start(script.scriptId)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  await first.result();
});

it('partial ingestion calls the provider only for changed work', async () => {
  const t = title('Partial');
  const text = syntheticScreenplay({ scenes: 10, characters: 4, title: t, salt: t });
  const script = await importText(stack.app.services.db, text, { title: t });
  expect((await run(script.scriptId)).status).toBe('completed');
  const edited = text.replace('in scene 4 ', 'in scene 4 with a new twist ');
  const reimported = await importText(stack.app.services.db, edited, { title: t });
  expect(reimported.scriptId).toBe(script.scriptId);
  expect(reimported.changedScenes).toBe(1);
  const speakersInScene4: { name: string }[] = await stack.app.services.db.query(
    `SELECT c.name FROM scene_characters sc JOIN scenes s ON s.id = sc.scene_id JOIN characters c ON c.id = sc.character_id WHERE s.script_id = $1 AND s.position = 3`,
    [script.scriptId],
  );
  stack.sim.resetStats();
  const result = await run(script.scriptId, { mode: 'partial', flags: { useCache: false } });
  expect(result.status).toBe('completed');
  const stats = stack.sim.stats();
  expect(stats.byPurpose.summary.requests).toBe(1);
  expect(stats.byPurpose.outline.requests).toBe(1);
  expect(stats.byPurpose.sheet.requests).toBe(speakersInScene4.length);
  expect(stats.byPurpose.embedding).toMatchObject({ requests: 1, embeddingInputs: 1 });
  expect(stats.totalRequests).toBe(3 + speakersInScene4.length);
  // Phase 2 counts what it kept as reused, out of all it covers (not only what it remade).
  const speakers = await count('SELECT count(DISTINCT sc.character_id) AS n FROM scene_characters sc JOIN scenes s ON s.id = sc.scene_id WHERE s.script_id = $1', [script.scriptId]);
  expect(result.phases.summaries).toMatchObject({ total: 10, done: 1, reused: 9 });
  expect(result.phases.outline).toMatchObject({ total: 1, done: 1, reused: 0 });
  expect(result.phases.sheets).toMatchObject({ total: speakers, done: speakersInScene4.length, reused: speakers - speakersInScene4.length });
  expect(result.phases.embeddings).toMatchObject({ total: 10, done: 1, reused: 9 });
  // Unchanged: everything is reused, nothing made.
  const unchanged = await run(script.scriptId, { mode: 'partial' });
  expect(unchanged.phases.outline).toMatchObject({ total: 1, done: 0, reused: 1 });
  expect(unchanged.phases.sheets).toMatchObject({ total: speakers, done: 0, reused: speakers });
  expect(unchanged.phases.embeddings).toMatchObject({ total: 10, done: 0, reused: 10 });
  expect(stack.sim.stats().totalRequests).toBe(3 + speakersInScene4.length);
});

it('a re-run with the cache makes zero provider calls', async () => {
  const script = await importSynthetic(stack.app.services.db, 8, 3, title('Cached'));
  expect((await run(script.scriptId)).status).toBe('completed');
  // Stored results gone: a partial run must make everything again, and the cache answers it all.
  await forgetIngestionResults(stack.app.services.db, script.scriptId);
  stack.sim.resetStats();
  const again = await run(script.scriptId, { mode: 'partial' });
  expect(again.status).toBe('completed');
  expect(again.phases.summaries).toMatchObject({ done: 8, reused: 0, cached: 8 });
  // Every phase says the cache answered it (nothing was paid for).
  expect(again.phases.outline).toMatchObject({ done: 1, cached: 1 });
  expect(again.phases.sheets.cached).toBe(again.phases.sheets.done);
  expect(again.phases.embeddings).toMatchObject({ done: 8, cached: 8 });
  expect(stack.sim.stats().totalRequests).toBe(0);
});

it('continues as new every scenesPerRun scenes, keeping progress and results', async () => {
  const script = await importSynthetic(stack.app.services.db, 11, 3, title('Long'));
  const result = await run(script.scriptId, { scenesPerRun: 4 });
  expect(result.status).toBe('completed');
  expect(result.runs).toBe(3);
  expect(result.phases.summaries).toMatchObject({ total: 11, done: 11 });
  expect(stack.sim.stats().byPurpose.summary.requests).toBe(11);
  expect(await summaries(script.scriptId)).toBe(11);
});

describe('provider limits across workflows', () => {
  let limited: RunningApp;
  beforeAll(async () => {
    limited = await startApp(stack.env, testConfig(stack.sim, { STORYLOOM_ANTHROPIC_MAX_CONCURRENT: '3' }), 'limited');
  });
  afterAll(() => limited?.stop());

  it('two ingestions at once stay within the provider queue\'s worker cap', async () => {
    const [a, b] = await Promise.all([
      importSynthetic(stack.app.services.db, 15, 3, title('CapA')),
      importSynthetic(stack.app.services.db, 15, 3, title('CapB')),
    ]);
    stack.sim.configure({ latency: { default: { fixedMs: 80 } } });
    const runBoth = [a, b].map((s) =>
      stack.env.client.workflow.execute(ingestScript, {
        taskQueue: limited.taskQueue,
        workflowId: ingestionWorkflowId(s.scriptId),
        args: [{ scriptId: s.scriptId, mode: 'full', concurrency: { summaries: 10, sheets: 5 } }],
      }),
    );
    const results = await Promise.all(runBoth);
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(stack.sim.stats().byProvider.anthropic.peakConcurrent).toBe(3);
    expect(stack.sim.stats().byProvider.anthropic.requests).toBeGreaterThanOrEqual(30);
  });
});

describe('durability', () => {
  it('a worker that goes away mid-run is replaced by another, and the run completes without duplicate rows', async () => {
    const first = await startApp(stack.env, testConfig(stack.sim), 'durable-a');
    const script = await importSynthetic(stack.app.services.db, 16, 3, title('Durable'));
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
    const handle = await stack.env.client.workflow.start(ingestScript, {
      taskQueue: first.taskQueue,
      workflowId: ingestionWorkflowId(script.scriptId),
      args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 2, sheets: 2 }, writeBatchSize: 2 }],
    });
    await waitFor(async () => (await summaries(script.scriptId)) >= 2);
    // The worker process stops (its in-flight calls finish within the shutdown grace time); a new one takes over the same queues.
    await first.stop();
    const second = await startApp(stack.env, testConfig(stack.sim), 'durable-b', {}, first.taskQueue);
    try {
      const result = await handle.result();
      expect(result.status).toBe('completed');
      expect(result.phases.summaries.done).toBe(16);
      expect(await summaries(script.scriptId)).toBe(16);
      expect(await count('SELECT count(*) AS n FROM scene_embeddings se JOIN scenes s ON s.id = se.scene_id WHERE s.script_id = $1', [script.scriptId])).toBe(16);
      expect(await count('SELECT count(*) AS n FROM ingestion_runs WHERE script_id = $1', [script.scriptId])).toBe(1);
    } finally {
      await second.stop();
    }
  });
});
