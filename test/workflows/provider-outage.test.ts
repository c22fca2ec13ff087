/**
 * An outage that hits every item stops the run early (issue 14, gap 2): when most recent calls
 * fail the same transient way, the run pauses itself, says why (progress, Web UI details), fails
 * no item and spends no attempts while paused; `resume` after the provider is back finishes it,
 * and so does the run itself: after a back-off one item probes the provider (one request), and
 * the run resumes once it answers. Real dev server, Postgres and simulator.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { ingestionWorkflowId, type IngestionResult } from '../../src/shared/ingestion';
import { ingestScript, pauseUpdate, progressQuery, resumeUpdate } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('provider-outage');

const currentDetails = async (handle: WorkflowHandle) =>
  ((await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';
const pendingActivities = async (handle: WorkflowHandle) => (await handle.describe()).raw.pendingActivities?.length ?? 0;

it('every call failing with a 5xx pauses the run with the reason; no attempts while paused; resume finishes it with nothing failed', async () => {
  const script = await importSynthetic(stack.app.services.db, 40, 3, `Outage ${Date.now()}`);
  stack.sim.configure({ faults: [{ kind: 'http500', rate: 1 }] });
  const handle = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    // No probe within the test: a human resumes this one.
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 10, sheets: 3 }, autoResume: { afterMs: 3_600_000 } }],
  });

  const paused = await waitFor(async () => {
    const p = await handle.query(progressQuery);
    return p.paused && p.pauseReason ? p : undefined;
  }, 30_000, 'the run pauses itself');
  expect(paused.pauseReason).toMatch(/anthropic looks down: \d+ of its last \d+ calls failed \(LlmTransient\)/);
  expect(paused.phases.summaries.failed).toBe(0);
  expect(await currentDetails(handle)).toContain('paused by itself: anthropic looks down');

  // The attempts already scheduled end at once (the provider is known down); then nothing is called.
  await waitFor(async () => (await pendingActivities(handle)) === 0, 30_000, 'no activity pending');
  const before = stack.sim.stats().totalRequests;
  await new Promise((r) => setTimeout(r, 3000));
  expect(stack.sim.stats().totalRequests).toBe(before);
  expect((await handle.query(progressQuery)).phases.summaries.failed).toBe(0);

  // The provider is back: resume, and the run finishes with every item done.
  stack.sim.configure({ faults: [] });
  const state = await handle.executeUpdate(resumeUpdate);
  expect(state.paused).toBe(false);
  expect((await handle.query(progressQuery)).pauseReason).toBeUndefined();
  const result: IngestionResult = await handle.result();
  expect(result.status).toBe('completed');
  expect(result.failureCount).toBe(0);
  expect(result.phases.summaries.done).toBe(40);
});

/** A 20-scene ingestion against a provider that answers every call 500: returned once it paused itself and nothing is pending. */
async function pausedByOutage(title: string, autoResumeAfterMs: number) {
  const script = await importSynthetic(stack.app.services.db, 20, 2, `${title} ${Date.now()}`);
  stack.sim.configure({ faults: [{ kind: 'http500', rate: 1 }] });
  const handle = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 5, sheets: 2 }, autoResume: { afterMs: autoResumeAfterMs } }],
  });
  await waitFor(async () => (await handle.query(progressQuery)).pauseReason, 30_000, 'paused');
  await waitFor(async () => (await pendingActivities(handle)) === 0, 30_000, 'no activity pending');
  return handle;
}

it('resumed while the provider is still down: it pauses again after one attempt per item in flight, failing none', async () => {
  const handle = await pausedByOutage('Outage again', 3_600_000);
  const before = stack.sim.stats().totalRequests;
  await handle.executeUpdate(resumeUpdate);
  await waitFor(async () => (await handle.query(progressQuery)).pauseReason, 30_000, 'paused again');
  await waitFor(async () => (await pendingActivities(handle)) === 0, 30_000, 'no activity pending');
  // At most the five items in flight were tried once more.
  expect(stack.sim.stats().totalRequests - before).toBeLessThanOrEqual(5);
  expect((await handle.query(progressQuery)).phases.summaries.failed).toBe(0);
  stack.sim.configure({ faults: [] });
  await handle.executeUpdate(resumeUpdate);
  expect((await handle.result()).status).toBe('completed');
});

it('a pause on an outage ends by itself: one request per probe while the provider is down, then the run resumes and completes', async () => {
  const handle = await pausedByOutage('Outage probe', 4000);
  const before = stack.sim.stats().totalRequests;
  // The first probe: one request (the next one is twice the back-off away), and the run stays paused.
  await waitFor(async () => stack.sim.stats().totalRequests > before || undefined, 60_000, 'the first probe');
  await waitFor(async () => (await pendingActivities(handle)) === 0, 30_000, 'the probe ended');
  expect(stack.sim.stats().totalRequests - before).toBe(1);
  const stillPaused = await handle.query(progressQuery);
  expect(stillPaused.paused).toBe(true);
  expect(stillPaused.phases.summaries.failed).toBe(0);

  // The provider is back: the next probe answers and the run finishes with nobody's resume.
  stack.sim.configure({ faults: [] });
  const result: IngestionResult = await handle.result();
  expect(result.status).toBe('completed');
  expect(result.failureCount).toBe(0);
  expect(result.phases.summaries.done).toBe(20);
});

it('after its last probe the run stays paused for a human, spending nothing; a pause by the user replaces the outage reason', async () => {
  const script = await importSynthetic(stack.app.services.db, 20, 2, `Outage probes spent ${Date.now()}`);
  stack.sim.configure({ faults: [{ kind: 'http500', rate: 1 }] });
  const handle = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 5, sheets: 2 }, autoResume: { afterMs: 500, maxProbes: 1 } }],
  });
  // One probe, still down: the run stays paused and says a human must resume it.
  const spent = await waitFor(async () => {
    const p = await handle.query(progressQuery);
    return p.pauseReason?.includes('Still down after 1 probes') ? p : undefined;
  }, 60_000, 'the probes spent');
  expect(spent.paused).toBe(true);
  expect(spent.phases.summaries.failed).toBe(0);
  await waitFor(async () => (await pendingActivities(handle)) === 0, 30_000, 'no activity pending');
  const before = stack.sim.stats().totalRequests;
  await new Promise((r) => setTimeout(r, 2000));
  expect(stack.sim.stats().totalRequests).toBe(before);

  // A user's pause replaces the outage's: the provider's return ends nothing by itself.
  await handle.executeUpdate(pauseUpdate);
  expect((await handle.query(progressQuery)).pauseReason).toBeUndefined();
  stack.sim.configure({ faults: [] });
  await handle.executeUpdate(resumeUpdate);
  expect((await handle.result()).status).toBe('completed');
});
