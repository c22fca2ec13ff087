/**
 * A turn that reaches a session after it ended: its sender (`storyloom turn`, `play`, the API's
 * POST …/turns) found it active a moment before, then `sessions end` closed its run. The turn is
 * sent with update-with-start, so it started a new run for the ended session: that run took the
 * turn (an LLM call paid on an ended session, its row's turn count moved on) and then stayed open,
 * an orphan `sessions end` refuses ("had already ended"). Now the new run refuses to open an ended
 * session: the turn fails saying the session has ended, nothing is paid, and no run is left open.
 */
import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { endSession } from '../../src/operations/end-session';
import { SESSION_ENDED, sessionWorkflowId } from '../../src/shared/sessions';
import { useTestStack } from '../helpers/harness';

const stack = useTestStack('session-turn-after-end', { simulator: { latency: { default: { fixedMs: 5 } } } });

it('a turn sent as the session ended takes nothing: it fails saying the session has ended, no call is paid and no run stays open', async () => {
  const client = stack.env.client;
  const db = stack.app.services.db;
  const repo = new SessionsRepository(db);
  const sessionId = randomUUID();
  const turn = (text: string) => sendTurn(client, { sessionId, title: 'Ends Mid-Air', taskQueue: stack.app.taskQueue, text });
  await turn('I open the door.');
  const ended = await endSession({ config: stack.app.config, db: () => Promise.resolve(db), client: () => Promise.resolve(client) }, (await repo.getSession(sessionId))!);
  expect(ended).toMatchObject({ outcome: 'ended', turns: 1 });
  const handle = client.workflow.getHandle(sessionWorkflowId(sessionId));
  await handle.result();
  const requestsBefore = stack.sim.stats().totalRequests;

  // The sender checked the session a moment before the end: it sends the turn all the same.
  const err = await turn('I look around.').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause).toMatchObject({ type: SESSION_ENDED, message: expect.stringContaining('has ended') });

  expect(stack.sim.stats().totalRequests).toBe(requestsBefore);
  expect(await repo.getSession(sessionId)).toMatchObject({ status: 'ended', turns: 1 });
  expect((await handle.describe()).status.name).not.toBe('RUNNING');
});
