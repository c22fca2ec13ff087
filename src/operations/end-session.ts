/**
 * Ending a story session: its run's `end` Update, which answers the turns taken and those sent
 * before the end and still being taken (the run ends after them). Shared by `storyloom sessions
 * end` and `POST /api/sessions/:id/end`.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { SessionsRepository } from '../db/repositories/sessions.repository';
import { sessionWorkflowId } from '../shared/sessions';
import { endSessionUpdate } from '../workflows';
import type { OperationContext } from './context';
import { RunUnresponsiveError, STEER_TIMEOUT_MS } from './steer-run';

export interface SessionEndAnswer {
  sessionId: string;
  title: string;
  /**
   * `ended`: nothing is left to take; `ending`: `pending` turns sent before the end are still
   * being taken and the session ends after them; `already_ended`: it had ended before (nothing was sent).
   */
  outcome: 'ended' | 'ending' | 'already_ended';
  /** Turns taken when the end was asked. */
  turns: number;
  /** Turns sent before the end and not yet taken (the one in flight included). */
  pending: number;
  /** The sentence `sessions end` prints. */
  message: string;
}

export const turnsText = (n: number): string => `${n} turn${n === 1 ? '' : 's'}`;

/**
 * Ends the session. With no worker taking the Update within STEER_TIMEOUT_MS the wait stops
 * with RunUnresponsiveError (the server keeps the request: a worker that starts later may still
 * apply it). A session with no run to ask (never played, or its run closed without ending it) is
 * marked ended in Postgres.
 */
export async function endSession(ctx: OperationContext, session: { id: string; title: string; status: string; turns: number }): Promise<SessionEndAnswer> {
  const answer = (outcome: SessionEndAnswer['outcome'], turns: number, pending: number, message: string): SessionEndAnswer => ({ sessionId: session.id, title: session.title, outcome, turns, pending, message });
  if (session.status === 'ended') return answer('already_ended', session.turns, 0, `Session ${session.id} had already ended.`);
  const client = await ctx.client();
  try {
    // Bounded as steering is: with no worker the update would wait for one forever.
    const ended = await client.withDeadline(Date.now() + STEER_TIMEOUT_MS, () => client.workflow.getHandle(sessionWorkflowId(session.id)).executeUpdate(endSessionUpdate));
    const pending = ended.pending ?? 0;
    return pending
      ? answer('ending', ended.turns, pending, `Ending "${session.title}" after ${turnsText(ended.turns + pending)}: ${turnsText(pending)} sent before the end ${pending === 1 ? 'is' : 'are'} still being taken.`)
      : answer('ended', ended.turns, 0, `Ended "${session.title}" after ${turnsText(ended.turns)}.`);
  } catch (err) {
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new RunUnresponsiveError();
    // No workflow is running for it (never played, or closed): mark it ended directly.
    if (!(err instanceof WorkflowNotFoundError) && !(err instanceof WorkflowUpdateFailedError)) throw err;
    await new SessionsRepository(await ctx.db()).endSession(session.id);
    return answer('ended', session.turns, 0, `Ended "${session.title}" after ${turnsText(session.turns)}.`);
  }
}
