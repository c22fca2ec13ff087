/**
 * When a job started: its first run's start. A job that continued as new (a stories run every 500
 * syntheses, an ingestion into its phase 2) is described by its latest run, whose start is the
 * hand-over's; the job's row and report are kept under its first run (`firstRunId`) for the same
 * reason.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';

export async function jobStartTime(client: Client, desc: WorkflowExecutionDescription): Promise<Date> {
  const firstRunId = desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  if (firstRunId === desc.runId) return desc.startTime;
  try {
    return (await client.workflow.getHandle(desc.workflowId, firstRunId).describe()).startTime;
  } catch (err) {
    // The first run's history is gone (retention): the latest run's start is all that is known.
    if (err instanceof WorkflowNotFoundError) return desc.startTime;
    throw err;
  }
}
