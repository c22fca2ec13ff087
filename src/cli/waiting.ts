/**
 * What a running workflow is waiting on, from its pending activities (`describe()`): an
 * activity being retried says so with its last failure, and one whose database is unreachable
 * says the run waits for the database (issue 14, gap 3). No script text: failure messages only.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { isDatabaseUnreachable } from '../activities/attempt-budget';

/**
 * `converter`: the app's (loadDataConverter(dataConverterFor(config))). describe() leaves the
 * failures as stored, and with payload keys their messages are encrypted (failure-converter.ts).
 */
export async function waitingLines(desc: WorkflowExecutionDescription, converter: LoadedDataConverter): Promise<string[]> {
  const lines: string[] = [];
  for (const a of desc.raw.pendingActivities ?? []) {
    const attempt = a.attempt ?? 1;
    if (attempt <= 1 || !a.lastFailure) continue;
    const failure = await decodeOptionalFailureToOptionalError(converter, a.lastFailure);
    const message = failure?.message ?? '';
    if (!message) continue;
    const what = a.activityType?.name ?? 'activity';
    lines.push(
      isDatabaseUnreachable(failure)
        ? `waiting for the database to return: ${what} attempt ${attempt} (${message})`
        : `retrying ${what}: attempt ${attempt} (${message})`,
    );
  }
  return lines;
}
