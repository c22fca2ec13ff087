/**
 * A story session's run cancelled (a Temporal workflow cancel, as `POST /api/runs/:id/cancel`
 * sends) while a turn is in flight: the turn's model call is aborted at the provider, a write
 * tool already started is let finish (and nothing is written after), the turn's row ends
 * `failed` with the reason, the caller's Update fails saying so, and the run ends cancelled.
 * Real dev server, Postgres, simulator.
 */
import { CancelledFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import type { TurnResult } from '../../src/shared/sessions';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

// The model's answer may take longer than the tests' usual 5 s request timeout.
const stack = useTestStack('story-session-cancel', { env: { STORYLOOM_LLM_TIMEOUT_MS: '60000' } });
let repo: SessionsRepository;
beforeAll(() => {
  repo = new SessionsRepository(stack.app.services.db);
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

const startTurn = (sessionId: string, text: string): Promise<TurnResult> => {
  const answer = sendTurn(stack.env.client, { sessionId, title: 'The Tide', taskQueue: stack.app.taskQueue, text });
  answer.catch(() => undefined);
  return answer;
};

/** The Update's failure message (the caller's view), or a failure of the test when it answered. */
const updateFailure = async (answer: Promise<TurnResult>): Promise<string> => {
  const err = await answer.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
};

/** Cancels the run and waits for it to close; answers how it closed. */
const cancelRun = async (sessionId: string): Promise<unknown> => {
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  await handle.cancel();
  return handle.result().then(
    () => 'completed',
    (e: unknown) => (e instanceof WorkflowFailedError ? e.cause : e),
  );
};

it('cancelled during the model call: the call is aborted, the turn row ends failed, the caller is told, the run ends cancelled', async () => {
  const sessionId = randomUUID();
  stack.sim.configure({ latency: { byPurpose: { session: { fixedMs: 20_000 } } } });
  const answer = startTurn(sessionId, 'I wait for the tide');
  await waitFor(() => stack.sim.stats().currentConcurrent > 0, 20_000, 'the model call is open at the simulator');
  expect(await repo.turn(sessionId, 1)).toMatchObject({ status: 'running' });

  const closed = await cancelRun(sessionId);

  expect(closed).toBeInstanceOf(CancelledFailure);
  // Nothing of the run is still talking to the provider once it has closed.
  expect(stack.sim.stats().currentConcurrent).toBe(0);
  expect(stack.sim.stats().aborted).toBe(1);
  expect(await repo.turn(sessionId, 1)).toMatchObject({ status: 'failed', reply: null, error: expect.stringMatching(/cancelled/) });
  expect(await updateFailure(answer)).toMatch(/Turn 1 was cancelled: the session's run was cancelled/);

  // Sent again, the turn starts a new run of the session and completes (reads and writes as usual).
  stack.sim.configure({ latency: null });
  const again = await startTurn(sessionId, 'I wait for the tide');
  expect(again).toMatchObject({ turnNumber: 1, metrics: { readOnly: 3, writes: 2 } });
  expect(await repo.turn(sessionId, 1)).toMatchObject({ status: 'completed', error: null, reply: again.reply });
});

it('cancelled during a write tool: the write finishes and is recorded with the turn, nothing runs after it', async () => {
  const sessionId = randomUUID();
  // add_memory embeds its text before it writes: 2 s at the simulator.
  stack.sim.configure({ latency: { byRoute: { 'openai.embeddings': { fixedMs: 2000 } } } });
  const answer = startTurn(sessionId, 'I carve a mark on the rock [tools: add_memory]');
  await waitFor(() => (stack.sim.stats().byRoute['openai.embeddings']?.requests ?? 0) > 0 && stack.sim.stats().currentConcurrent > 0, 20_000, 'the write tool is embedding');

  const closed = await cancelRun(sessionId);

  expect(closed).toBeInstanceOf(CancelledFailure);
  expect(stack.sim.stats().currentConcurrent).toBe(0);
  const turn = await repo.turn(sessionId, 1);
  expect(turn).toMatchObject({ status: 'failed', error: expect.stringMatching(/cancelled/) });
  expect(turn!.toolCalls.map((c) => [c.name, c.ok])).toEqual([['add_memory', true]]);
  const writes = async () => (await stack.app.services.db.query('SELECT tool_name FROM session_tool_writes WHERE session_id = $1', [sessionId])) as unknown[];
  expect(await writes()).toEqual([{ tool_name: 'add_memory' }]);
  expect(await repo.recentMemories(sessionId, 10)).toEqual([expect.objectContaining({ text: 'I carve a mark on the rock' })]);
  // The model was not asked again after the cancel, and nothing was written once the run had closed.
  expect(stack.sim.stats().byPurpose.session?.requests).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(await writes()).toHaveLength(1);
  expect(await updateFailure(answer)).toMatch(/Turn 1 was cancelled/);
});
