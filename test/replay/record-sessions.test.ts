/**
 * Records storySession histories (0.3.0) from real runs and checks they replay: a run that
 * takes two turns (tools in parallel and in order, an invalid argument answered as an error)
 * and continues as new, and the next run that takes a turn and ends; both with search attributes
 * and, one turn of history kept in full, a summary of the older turns made between turns. With
 * STORYLOOM_RECORD_HISTORIES=1 it writes them for replay.test.ts to guard.
 */
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { endSessionUpdate } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { recordAndReplay } from './recorder';

const stack = useTestStack('record-sessions', { env: { STORYLOOM_SESSION_TURNS_PER_RUN: '2', MAX_TURN_HISTORY: '1' } });

it('records a session: two turns, continue-as-new, a third turn, end', async () => {
  const sessionId = randomUUID();
  const workflowId = sessionWorkflowId(sessionId);
  const turn = (text: string) => sendTurn(stack.env.client, { sessionId, title: 'Recorded', taskQueue: stack.app.taskQueue, text, searchAttributes: true });
  await turn('I climb the lighthouse stairs');
  const handle = stack.env.client.workflow.getHandle(workflowId);
  const firstRunId = (await handle.describe()).runId;
  await turn('I shout into the storm [tools: add_memory!bad, read_state]');
  const secondRunId = await waitFor(async () => {
    const d = await handle.describe();
    return d.runId !== firstRunId && d.runId;
  });
  expect((await turn('I go back down [tools: none]')).turnNumber).toBe(3);
  expect(await handle.executeUpdate(endSessionUpdate)).toEqual({ sessionId, turns: 3 });
  await handle.result();
  // Both runs took the new branches: a summary between turns and search attributes kept current.
  for (const runId of [firstRunId, secondRunId]) {
    const events = (await stack.env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    expect(events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'summariseSessionTurns')).toBe(true);
    expect(events.some((e) => e.upsertWorkflowSearchAttributesEventAttributes)).toBe(true);
  }
  await recordAndReplay(stack.env.address, 'session-turns-continue-as-new', workflowId, firstRunId);
  await recordAndReplay(stack.env.address, 'session-turn-and-end', workflowId, secondRunId);
});

it('records a session cancelled during a turn (0.7.3), and replays it', async () => {
  const sessionId = randomUUID();
  const workflowId = sessionWorkflowId(sessionId);
  stack.sim.configure({ latency: { byPurpose: { session: { fixedMs: 3000 } } } });
  try {
    const answer = sendTurn(stack.env.client, { sessionId, title: 'Recorded cancel', taskQueue: stack.app.taskQueue, text: 'I wait for the tide', searchAttributes: true });
    answer.catch(() => undefined);
    await waitFor(() => stack.sim.stats().currentConcurrent > 0, 20_000, 'the model call is open at the simulator');
    const handle = stack.env.client.workflow.getHandle(workflowId);
    await handle.cancel();
    expect(await handle.result().then(() => 'completed', (e: unknown) => (e instanceof WorkflowFailedError ? e.cause : e))).toBeInstanceOf(CancelledFailure);
    await expect(answer).rejects.toThrow();
    await recordAndReplay(stack.env.address, 'session-cancelled-mid-turn', workflowId);
  } finally {
    stack.sim.configure({ latency: null });
  }
});
