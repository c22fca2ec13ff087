/**
 * Steering that reaches a run after it ended (the caller saw it running a moment before: the CLI
 * and the API check first, then send) gets a clear answer, not a success. The server accepts a
 * cancel of an ended run and does nothing: it was answered "Cancel requested" (CLI exit 0, API 202)
 * for a run that had completed. Pause, resume and concurrency were already refused that way.
 */
import { NotRunningError, setRunConcurrency, steerRun } from '../../src/operations/steer-run';
import { smokeTest } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';

const stack = useTestStack('steer-after-end', { simulator: { latency: { default: { fixedMs: 5 } } } });

it('cancel, pause, resume and concurrency of a run that has completed are refused as not running, naming how it ended', async () => {
  const client = stack.env.client;
  const started = await client.workflow.start(smokeTest, { taskQueue: stack.app.taskQueue, workflowId: 'steer-after-end-smoke', args: [{ prompt: 'Steer me.', useCache: false }] });
  await started.result();
  const handle = client.workflow.getHandle(started.workflowId);

  const cancelled = await steerRun(client, handle, 'cancel').catch((err: unknown) => err);
  expect(cancelled).toBeInstanceOf(NotRunningError);
  expect(cancelled).toMatchObject({ code: 'conflict', message: 'Workflow steer-after-end-smoke is not running (COMPLETED).' });
  // The cancel changed nothing.
  expect((await handle.describe()).status.name).toBe('COMPLETED');

  for (const action of ['pause', 'resume'] as const) await expect(steerRun(client, handle, action)).rejects.toBeInstanceOf(NotRunningError);
  await expect(setRunConcurrency(client, handle, { summaries: 2 })).rejects.toBeInstanceOf(NotRunningError);
});

it('a cancel of a running run is still answered as requested', async () => {
  const client = stack.env.client;
  // A queue no worker polls: the run stays running until the cancel.
  const started = await client.workflow.start(smokeTest, { taskQueue: `${stack.app.taskQueue}-nobody`, workflowId: 'steer-after-end-running', args: [{ prompt: 'Wait.', useCache: false }] });
  await expect(steerRun(client, client.workflow.getHandle(started.workflowId), 'cancel')).resolves.toBeUndefined();
  await started.terminate('test done');
});
