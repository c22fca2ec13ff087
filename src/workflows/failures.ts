import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The type and message of a failure, looking through an ActivityFailure to its cause. */
export function describeFailure(err: unknown): { type: string; message: string } {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? 'ApplicationFailure') : (cause as Error)?.name ?? 'Error';
  return { type, message: (cause as Error)?.message ?? String(cause) };
}
