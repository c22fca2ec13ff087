/**
 * A story session continues as new when the server suggests it (0.8.1), not only every
 * `turnsPerRun` turns: turns heavy with tool calls grow the history faster than the turn count
 * says. Here the dev server suggests it past 40 events (Temporal's default is 4,096), while
 * `turnsPerRun` stays at its default of 50. Real dev server, Postgres and simulator; the first
 * run's history is recorded (STORYLOOM_RECORD_HISTORIES=1) and replayed.
 */
import { WorkflowExecutionStatusName } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { sessionProgressQuery } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { recordAndReplay } from './recorder';

const stack = useTestStack('story-session-continue', { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 } });

it('continues as new after a turn once the server suggests it, and the next turns go on in the new run', async () => {
  const sessionId = randomUUID();
  const workflowId = sessionWorkflowId(sessionId);
  const turn = (text: string) => sendTurn(stack.env.client, { sessionId, title: 'The Lighthouse', taskQueue: stack.app.taskQueue, text });
  /** The session's runs (visibility). */
  const listRuns = async () => {
    const found: { runId: string; status: WorkflowExecutionStatusName }[] = [];
    for await (const run of stack.env.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) found.push({ runId: run.runId, status: run.status.name });
    return found;
  };
  const runs = async () => (await listRuns()).map((r) => r.status).sort();
  const first = await turn('I climb the stairs of the lighthouse');
  // One turn with its tools takes the history past 40 events: the run hands over after it.
  await waitFor(async () => (await runs()).join() === 'CONTINUED_AS_NEW,RUNNING', 20_000, 'the first run continued as new');
  const firstRun = (await listRuns()).find((r) => r.status === 'CONTINUED_AS_NEW')!;
  const second = await turn('I light the lamp');
  const third = await turn('I look out to sea');
  expect([first.turnNumber, second.turnNumber, third.turnNumber]).toEqual([1, 2, 3]);
  await waitFor(async () => (await runs()).length >= 3, 20_000, 'each turn in a run of its own');
  expect(await stack.env.client.workflow.getHandle(workflowId).query(sessionProgressQuery)).toMatchObject({ turns: 3 });
  const stored = await Promise.all([1, 2, 3].map((n) => new SessionsRepository(stack.app.services.db).turn(sessionId, n)));
  expect(stored.map((t) => t?.status)).toEqual(['completed', 'completed', 'completed']);
  await recordAndReplay(stack.env.address, 'session-continued-when-suggested', workflowId, firstRun.runId);
});
