/**
 * The message of a failed workflow or Update a command waited for (src/starter.ts prints it for
 * every command; commands that catch the failure themselves print it too).
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, NexusOperationFailure } from '@temporalio/common';

/** Failures that say only where something failed ("Activity task failed"): their cause says what. */
function isWrapperFailure(err: unknown): err is ActivityFailure | ChildWorkflowFailure | NexusOperationFailure {
  return err instanceof ActivityFailure || err instanceof ChildWorkflowFailure || err instanceof NexusOperationFailure;
}

/**
 * What a failed workflow (or Update) awaited by a command says went wrong, for the one line the
 * CLI prints: the client's "Workflow execution failed" wraps the failure, which may wrap an
 * activity's or a child workflow's ("Activity task failed"), which wraps the ApplicationFailure
 * that says what to fix ("anthropic (model …) rejected the credentials (401): check
 * ANTHROPIC_API_KEY"). That one is the answer; its own cause, the SDK error it was made from, says
 * less. A workflow's failure that wraps an activity's keeps its message in front. Encrypted
 * failures (STORYLOOM_PAYLOAD_KEYS: messages in encoded attributes) arrive decoded, since the
 * client has the codec (connectClient's data converter). Undefined for an error that is not a
 * workflow's or an Update's failure.
 */
export function workflowFailureMessage(err: unknown): string | undefined {
  return workflowFailure(err)?.message;
}

/**
 * The same failure as a client branches on it (the API's run results): the `type` of the failure
 * that says what to fix (`LlmAuthentication`, `CancelledFailure`; its class name when it has no
 * type), and the message as workflowFailureMessage gives it.
 */
export function workflowFailure(err: unknown): { type: string; message: string } | undefined {
  if (!(err instanceof WorkflowFailedError) && !(err instanceof WorkflowUpdateFailedError)) return undefined;
  const context: string[] = [];
  const seen = new Set<unknown>();
  let failure: unknown = err.cause;
  while (failure instanceof Error && !seen.has(failure)) {
    seen.add(failure);
    if (isWrapperFailure(failure) && failure.cause) failure = failure.cause;
    else if (failure instanceof ApplicationFailure && isWrapperFailure(failure.cause)) {
      context.push(failure.message);
      failure = failure.cause;
    } else break;
  }
  const type = failure instanceof ApplicationFailure && failure.type ? failure.type : failure instanceof Error ? failure.name : err.name;
  return { type, message: [...context, failure instanceof Error && failure.message ? failure.message : err.message].join(': ') };
}
