/**
 * Starting a generateStories run over a scope. Its id comes from the resolved scope, so a second
 * start over the same scope is refused with the running one's id. Shared by `storyloom stories
 * generate` and `POST /api/stories/generate`.
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { storyloomSearchAttributes } from '../shared/search-attributes';
import { describeScope, resolveScope, scopeProblem, storiesWorkflowId, type StoryScope } from '../shared/stories';
import { generateStories } from '../workflows';
import type { GenerateStoriesInput } from '../workflows/generate-stories';
import { OperationError, type OperationContext } from './context';

export class StoriesAlreadyRunningError extends OperationError {
  constructor(
    readonly workflowId: string,
    readonly scope: StoryScope,
  ) {
    super('conflict', `Stories for ${describeScope(scope)} are already being generated (workflow ${workflowId}).`);
  }
}

export interface StartedStories {
  workflowId: string;
  scope: StoryScope;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof generateStories>;
}

/** Starts a run; a scope that covers no time (or starts before year 0) is refused first (bad_request), with nothing started. */
export async function startStories(ctx: OperationContext, input: GenerateStoriesInput): Promise<StartedStories> {
  const now = Date.now();
  const problem = scopeProblem(input.scope, now);
  if (problem) throw new OperationError('bad_request', problem);
  const scope = resolveScope(input.scope, now);
  const workflowId = storiesWorkflowId(scope);
  const client = await ctx.client();
  try {
    const handle = await client.workflow.start(generateStories, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: storyloomSearchAttributes('stories', `stories ${describeScope(scope)}`, 'running'),
      staticSummary: `stories ${describeScope(scope)}`,
    });
    return { workflowId, scope, handle };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new StoriesAlreadyRunningError(workflowId, scope);
    throw err;
  }
}
