/**
 * What `status` and `stories status` print of a running run when no worker answers: the job's
 * start, and for a run that continued as new, that its history length is its latest run's.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { describedLines } from '../../src/cli/steer.command';

function description(runId: string, firstRunId: string): WorkflowExecutionDescription {
  return {
    runId,
    status: { name: 'RUNNING' },
    startTime: new Date('2026-11-27T12:30:00.000Z'),
    historyLength: 42,
    typedSearchAttributes: new TypedSearchAttributes(),
    raw: { workflowExecutionInfo: { firstRunId } },
  } as unknown as WorkflowExecutionDescription;
}

it("a run's first: its own start and history", () => {
  expect(describedLines(description('run-1', 'run-1'))[0]).toBe('status RUNNING, started 2026-11-27T12:30:00.000Z, 42 history events');
});

it("a run that continued as new: the job's start, and the history said to be its latest run's", () => {
  const jobStart = new Date('2026-11-27T12:00:00.000Z');
  expect(describedLines(description('run-3', 'run-1'), jobStart)[0]).toBe('status RUNNING, started 2026-11-27T12:00:00.000Z, 42 history events in its latest run');
});
