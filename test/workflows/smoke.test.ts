/** The smoke workflow on a real Temporal dev server, real Postgres and the simulator. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { smokeTest } from '../../src/workflows';
import { startApp, startTestTemporal, testConfig, type RunningApp } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let app: RunningApp;
beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator()]);
  app = await startApp(env, testConfig(sim), 'smoke');
});
afterAll(async () => {
  await app?.stop();
  await sim?.close();
  await env?.teardown();
});

it('makes one LLM call on the provider queue and stores the answer', async () => {
  sim.resetStats();
  const workflowId = `smoke-${Date.now()}`;
  const result = await env.client.workflow.execute(smokeTest, {
    taskQueue: app.taskQueue,
    workflowId,
    args: [{ prompt: `A keeper and ${workflowId}.`, useCache: true }],
  });
  expect(result.provider).toBe('anthropic');
  expect(result.cached).toBe(false);
  expect(sim.stats().byPurpose.smoke.requests).toBe(1);
  const rows = await app.services.db.query('SELECT text, model, cached FROM smoke_results WHERE workflow_id = $1', [workflowId]);
  expect(rows).toEqual([{ text: result.text, model: result.model, cached: false }]);
  await app.services.callLog.flush();
  const calls = await app.services.db.query('SELECT outcome, activity_type FROM llm_calls WHERE workflow_id = $1', [workflowId]);
  expect(calls).toEqual([{ outcome: 'ok', activity_type: 'chatCompletion' }]);
});

it('cancelling the workflow aborts the simulated request in flight', async () => {
  sim.resetStats();
  sim.configure({ faults: [{ kind: 'hang', purpose: 'smoke' }] });
  try {
    const handle = await env.client.workflow.start(smokeTest, {
      taskQueue: app.taskQueue,
      workflowId: `smoke-cancel-${Date.now()}`,
      args: [{ prompt: 'This call hangs.', useCache: false }],
    });
    await waitFor(() => sim.stats().currentConcurrent === 1, 15_000);
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await waitFor(() => sim.stats().aborted === 1 && sim.stats().currentConcurrent === 0, 15_000);
  } finally {
    sim.configure({ faults: [] });
  }
});
