/** The smoke workflow on a real Temporal dev server, real Postgres and the simulator. */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { smokeTest } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('smoke');

it('makes one LLM call on the provider queue and stores the answer', async () => {
  stack.sim.resetStats();
  const workflowId = `smoke-${Date.now()}`;
  const result = await stack.env.client.workflow.execute(smokeTest, {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ prompt: `A keeper and ${workflowId}.`, useCache: true }],
  });
  expect(result.provider).toBe('anthropic');
  expect(result.cached).toBe(false);
  expect(stack.sim.stats().byPurpose.smoke.requests).toBe(1);
  const rows = await stack.app.services.db.query('SELECT text, model, cached FROM smoke_results WHERE workflow_id = $1', [workflowId]);
  expect(rows).toEqual([{ text: result.text, model: result.model, cached: false }]);
  await stack.app.services.callLog.flush();
  const calls = await stack.app.services.db.query('SELECT outcome, activity_type FROM llm_calls WHERE workflow_id = $1', [workflowId]);
  expect(calls).toEqual([{ outcome: 'ok', activity_type: 'chatCompletion' }]);
});

it('cancelling the workflow aborts the simulated request in flight', async () => {
  stack.sim.resetStats();
  stack.sim.configure({ faults: [{ kind: 'hang', purpose: 'smoke' }] });
  try {
    const handle = await stack.env.client.workflow.start(smokeTest, {
      taskQueue: stack.app.taskQueue,
      workflowId: `smoke-cancel-${Date.now()}`,
      args: [{ prompt: 'This call hangs.', useCache: false }],
    });
    await waitFor(() => stack.sim.stats().currentConcurrent === 1, 15_000);
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await waitFor(() => stack.sim.stats().aborted === 1 && stack.sim.stats().currentConcurrent === 0, 15_000);
  } finally {
    stack.sim.configure({ faults: [] });
  }
});
