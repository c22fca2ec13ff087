/**
 * Interactive work beside bulk work on one provider: a session's turn and a screenplay's variants
 * go ahead of an ingestion's queued summaries (task queue priority), so a player waits for one
 * free slot, not for the backlog of a bulk run whose window is wider than the workers' slots.
 * Real dev server (with its priority matcher on, as every server the project starts), Postgres
 * and the simulator.
 */
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import type { OperationContext } from '../../src/operations/context';
import { startScreenplay } from '../../src/operations/start-screenplay';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { SCREENPLAY_PRIORITY, SESSION_PRIORITY } from '../../src/shared/job-priority';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { ingestScript } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';
import { importSynthetic } from '../helpers/scripts';
import { waitFor } from '../helpers/wait';

// Two provider slots, so an ingestion with a window of 20 keeps 18 summaries queued.
const stack = useTestStack('interactive-priority', { env: { STORYLOOM_ANTHROPIC_MAX_CONCURRENT: '2' } });

it("a session's turn goes ahead of an ingestion's queued summaries on the provider both use", async () => {
  stack.sim.configure({ faults: [], latency: { byPurpose: { summary: { fixedMs: 300 }, session: { fixedMs: 20 } } } });
  const script = await importSynthetic(stack.app.services.db, 40, 2, `Bulk beside a session ${Date.now()}`);
  const ingestion = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 20, sheets: 2 } }],
  });
  const summaries = () => stack.sim.stats().byPurpose.summary?.requests ?? 0;
  // The window is open and its queue is backlogged: two summaries answered, 18 waiting for a slot.
  await waitFor(async () => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 2, 30_000);
  const before = summaries();

  const sessionId = randomUUID();
  const result = await sendTurn(stack.env.client, { sessionId, title: 'Beside a bulk job', taskQueue: stack.app.taskQueue, text: 'I look around [tools: none]' });
  const startedMeanwhile = summaries() - before;

  expect(result.turnNumber).toBe(1);
  expect(await priorityOf(sessionWorkflowId(sessionId))).toBe(SESSION_PRIORITY.priorityKey);
  expect(await priorityOf(ingestion.workflowId)).toBeUndefined();
  // In first-come order the turn's model call waits behind the 18 queued summaries (about 2.7 s
  // of them); ahead of them it takes the next free slot, while a slot or two are refilled.
  expect(startedMeanwhile).toBeLessThanOrEqual(5);
  // The bulk run is only delayed, not disturbed.
  expect((await ingestion.result()).phases.summaries).toMatchObject({ total: 40, done: 40, failed: 0 });
});

it('a screenplay started as the CLI and the API start it runs ahead of bulk work, behind sessions', async () => {
  await importCrew(stack.app.services.db);
  const ctx: OperationContext = { config: stack.app.config, db: async () => stack.app.services.db, client: async () => stack.env.client };
  const { handle } = await startScreenplay(ctx, { plot: HARBOUR_PLOT, personaNames: CREW.slice(0, 2), title: `Beside a bulk job ${randomUUID()}` });
  expect(await priorityOf(handle.workflowId)).toBe(SCREENPLAY_PRIORITY.priorityKey);
  expect(SESSION_PRIORITY.priorityKey).toBeLessThan(SCREENPLAY_PRIORITY.priorityKey!);
  await handle.result();
});

/** The priority key a run was started with (undefined: the server's default). */
async function priorityOf(workflowId: string): Promise<number | undefined> {
  const { raw } = await stack.env.client.workflow.getHandle(workflowId).describe();
  return raw.workflowExecutionInfo?.priority?.priorityKey || undefined;
}
