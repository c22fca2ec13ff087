/** Sending turns to a story session: the first turn starts the session's workflow (update-with-start). */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { sessionWorkflowId, type TurnResult } from '../shared/sessions';
import { storySession, takeTurnUpdate } from '../workflows';

export interface SendTurnOptions {
  sessionId: string;
  title: string;
  scriptId?: string | null;
  taskQueue: string;
  text: string;
}

/**
 * Takes one turn and answers its result. The session's workflow is started when it is not
 * running (its first turn, or a session resumed later) and used when it is, in one request.
 */
export async function sendTurn(client: Client, opts: SendTurnOptions): Promise<TurnResult> {
  const startWorkflowOperation = new WithStartWorkflowOperation(storySession, {
    workflowId: sessionWorkflowId(opts.sessionId),
    taskQueue: opts.taskQueue,
    args: [{ sessionId: opts.sessionId, title: opts.title, scriptId: opts.scriptId ?? null }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return client.workflow.executeUpdateWithStart(takeTurnUpdate, { args: [{ text: opts.text }], startWorkflowOperation });
}
