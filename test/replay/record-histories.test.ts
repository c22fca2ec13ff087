/**
 * Records histories of real runs (via the Temporal CLI's JSON export, as a user would from the
 * Web UI) and checks they replay against today's code. With STORYLOOM_RECORD_HISTORIES=1 it
 * also writes them, sanitized, to test/replay/histories/v<package version>/ for replay.test.ts
 * to guard from then on. It writes only histories that are missing: a release's set is
 * recorded once and never replaced.
 */
import { CancelledFailure } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript, pauseSignal, progressQuery, resumeSignal, setConcurrencySignal, smokeTest } from '../../src/workflows';
import { startApp, startTestTemporal, testConfig, workflowBundle, type RunningApp } from '../helpers/harness';
import { importFixture, importSynthetic } from '../helpers/scripts';
import { machineTraces, sanitizeHistory } from './sanitize-history';
import { waitFor } from '../helpers/wait';

const { version } = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
const OUT = path.join(__dirname, 'histories', `v${version}`);

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let app: RunningApp;
beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator({ latency: { default: { fixedMs: 5 } } })]);
  app = await startApp(env, testConfig(sim), 'record');
});
afterAll(async () => {
  await app?.stop();
  await sim?.close();
  await env?.teardown();
});
afterEach(() => sim.configure({ faults: [], latency: { default: { fixedMs: 5 }, byPurpose: null } }));

function exportHistory(workflowId: string, runId?: string): string {
  const args = ['workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--address', env.address, '--output', 'json'];
  return execFileSync(process.env.TEMPORAL_CLI!, args, { encoding: 'utf8' });
}

async function recordAndReplay(name: string, workflowId: string, runId?: string): Promise<string> {
  const json = JSON.stringify(sanitizeHistory(JSON.parse(exportHistory(workflowId, runId))), null, 2);
  expect(machineTraces(json)).toEqual([]);
  await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: name }, historyFromJSON(JSON.parse(json)));
  if (process.env.STORYLOOM_RECORD_HISTORIES === '1') {
    const file = path.join(OUT, `${name}.json`);
    mkdirSync(OUT, { recursive: true });
    if (!existsSync(file)) writeFileSync(file, `${json}\n`);
  }
  return json;
}

it('records a full ingestion and replays it', async () => {
  const script = await importFixture(app.services.db, 'fountain/night-ferry.fountain', `Replay ${Date.now()}`);
  await env.client.workflow.execute(ingestScript, { taskQueue: app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }] });
  await recordAndReplay('ingest-full', ingestionWorkflowId(script.scriptId));
});

it('records a flags-off ingestion and replays it', async () => {
  const script = await importSynthetic(app.services.db, 5, 3, `Replay seq ${Date.now()}`);
  await env.client.workflow.execute(ingestScript, {
    taskQueue: app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', flags: { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: false } }],
  });
  await recordAndReplay('ingest-flags-off', ingestionWorkflowId(script.scriptId));
});

it('records an ingestion with a failed scene and replays it', async () => {
  sim.configure({ faults: [{ kind: 'http400', purpose: 'summary', contains: 'in scene 2 ' }] });
  const script = await importSynthetic(app.services.db, 4, 2, `Replay fail ${Date.now()}`);
  const result = await env.client.workflow.execute(ingestScript, { taskQueue: app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }] });
  expect(result.failureCount).toBe(1);
  await recordAndReplay('ingest-one-failure', ingestionWorkflowId(script.scriptId));
});

it('records every run of an ingestion that continues as new, and replays each', async () => {
  const script = await importSynthetic(app.services.db, 7, 2, `Replay can ${Date.now()}`);
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await env.client.workflow.start(ingestScript, {
    taskQueue: app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', scenesPerRun: 3, writeBatchSize: 2 }],
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

it('records an ingestion paused and resumed by signals, and replays it', async () => {
  const script = await importSynthetic(app.services.db, 8, 2, `Replay pause ${Date.now()}`);
  sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await env.client.workflow.start(ingestScript, {
    taskQueue: app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 2, sheets: 2 } }],
  });
  await waitFor(() => (sim.stats().byPurpose.summary?.ok ?? 0) >= 2);
  await handle.signal(pauseSignal);
  await waitFor(async () => (await handle.query(progressQuery)).paused);
  await waitFor(() => sim.stats().currentConcurrent === 0);
  await handle.signal(resumeSignal);
  expect((await handle.result()).status).toBe('completed');
  await recordAndReplay('ingest-pause-resume', workflowId);
});

it('records an ingestion whose concurrency a signal widens, and replays it', async () => {
  const script = await importSynthetic(app.services.db, 8, 2, `Replay widen ${Date.now()}`);
  sim.configure({ latency: { byPurpose: { summary: { fixedMs: 150 } } } });
  sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await env.client.workflow.start(ingestScript, {
    taskQueue: app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 1, sheets: 1 } }],
  });
  await waitFor(() => (sim.stats().byPurpose.summary?.ok ?? 0) >= 1);
  await handle.signal(setConcurrencySignal, { summaries: 3, sheets: 2 });
  expect((await handle.result()).status).toBe('completed');
  expect(sim.stats().byPurpose.summary.peakConcurrent).toBe(3);
  await recordAndReplay('ingest-set-concurrency', workflowId);
});

it('records an ingestion cancelled mid-phase-1, and replays it', async () => {
  const script = await importSynthetic(app.services.db, 20, 2, `Replay cancel ${Date.now()}`);
  sim.configure({ latency: { byPurpose: { summary: { fixedMs: 1500 } } } });
  sim.resetStats();
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await env.client.workflow.start(ingestScript, {
    taskQueue: app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 2 }],
  });
  await waitFor(() => (sim.stats().byPurpose.summary?.ok ?? 0) >= 4);
  await waitFor(() => sim.stats().currentConcurrent > 0);
  await handle.cancel();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 30_000)));
  const err = await Promise.race([handle.result().catch((e: unknown) => e), hung]);
  clearTimeout(timer);
  if (err === 'hung') await handle.terminate('hung in a test');
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const [row] = await app.services.db.query('SELECT status FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(row.status).toBe('cancelled');
  await recordAndReplay('ingest-cancelled-phase1', workflowId);
});

it('records a smoke run and replays it', async () => {
  const workflowId = `replay-smoke-${Date.now()}`;
  await env.client.workflow.execute(smokeTest, { taskQueue: app.taskQueue, workflowId, args: [{ prompt: 'Replay me.', useCache: false }] });
  await recordAndReplay('smoke', workflowId);
});
