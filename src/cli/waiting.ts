/**
 * What a running workflow is waiting on, from its pending activities (`describe()`): an
 * activity being retried says so with its last failure, and one whose database is unreachable
 * says the run waits for the database (issue 14, gap 3). No script text: failure messages only.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { isDatabaseUnreachable } from '../activities/attempt-budget';

export function waitingLines(desc: WorkflowExecutionDescription): string[] {
  const lines: string[] = [];
  for (const a of desc.raw.pendingActivities ?? []) {
    const attempt = a.attempt ?? 1;
    const message = a.lastFailure?.message ?? '';
    if (attempt <= 1 || !message) continue;
    const what = a.activityType?.name ?? 'activity';
    lines.push(
      isDatabaseUnreachable({ message })
        ? `waiting for the database to return: ${what} attempt ${attempt} (${message})`
        : `retrying ${what}: attempt ${attempt} (${message})`,
    );
  }
  return lines;
}
