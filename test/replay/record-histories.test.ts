/**
 * Records histories of real runs (via the Temporal CLI's JSON export, as a user would from the
 * Web UI) and checks they replay. With STORYLOOM_RECORD_HISTORIES=1 it also writes them to
 * test/replay/histories, the set replay.test.ts guards: re-record after an intentional,
 * versioned (`patched()`) change to workflow code.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript, smokeTest } from '../../src/workflows';
import { startApp, startTestTemporal, testConfig, workflowBundle, type RunningApp } from '../helpers/harness';
import { importFixture, importSynthetic } from '../helpers/scripts';

const OUT = path.join(__dirname, 'histories');

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

function exportHistory(workflowId: string): string {
  return execFileSync(process.env.TEMPORAL_CLI!, ['workflow', 'show', '--workflow-id', workflowId, '--address', env.address, '--output', 'json'], { encoding: 'utf8' });
}

async function recordAndReplay(name: string, workflowId: string): Promise<void> {
  const json = exportHistory(workflowId);
  await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: name }, historyFromJSON(JSON.parse(json)));
  if (process.env.STORYLOOM_RECORD_HISTORIES === '1') writeFileSync(path.join(OUT, `${name}.json`), json);
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
  try {
    const script = await importSynthetic(app.services.db, 4, 2, `Replay fail ${Date.now()}`);
    const result = await env.client.workflow.execute(ingestScript, { taskQueue: app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }] });
    expect(result.failureCount).toBe(1);
    await recordAndReplay('ingest-one-failure', ingestionWorkflowId(script.scriptId));
  } finally {
    sim.configure({ faults: [] });
  }
});

it('records a smoke run and replays it', async () => {
  const workflowId = `replay-smoke-${Date.now()}`;
  await env.client.workflow.execute(smokeTest, { taskQueue: app.taskQueue, workflowId, args: [{ prompt: 'Replay me.', useCache: false }] });
  await recordAndReplay('smoke', workflowId);
});
