/**
 * Starting a script's ingestion: the mode chosen (first run full, later ones partial unless asked),
 * the workflow started with its search attributes and Web UI summary. Shared by `storyloom ingest`
 * and `POST /api/scripts/:id/ingestions`.
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_FLAGS,
  ingestionWorkflowId,
  type IngestionConcurrency,
  type IngestionFlags,
  type IngestionMode,
} from '../shared/ingestion';
import { storyloomSearchAttributes } from '../shared/search-attributes';
import { ingestScript } from '../workflows';
import { OperationError, type OperationContext } from './context';

/** A second ingestion of a script whose ingestion runs: the running one's id. */
export class IngestionAlreadyRunningError extends OperationError {
  constructor(
    readonly workflowId: string,
    title: string,
  ) {
    super('conflict', `An ingestion of "${title}" is already running (workflow ${workflowId}).`);
  }
}

export interface IngestionTarget {
  id: string;
  title: string;
  scenes: number;
  characters: number;
}

export interface StartIngestionOptions {
  /** Default: all on. */
  flags?: Partial<IngestionFlags>;
  /** Default: DEFAULT_CONCURRENCY. */
  concurrency?: Partial<IngestionConcurrency>;
  /** Default: partial (only what is not current is made; `full` remakes everything, past the cache). */
  mode?: IngestionMode;
}

export interface StartedIngestion {
  workflowId: string;
  firstExecutionRunId: string;
  mode: IngestionMode;
  flags: IngestionFlags;
  concurrency: IngestionConcurrency;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof ingestScript>;
}

/** Starts the script's ingestion and returns at once; IngestionAlreadyRunningError when one runs. */
export async function startIngestion(ctx: OperationContext, script: IngestionTarget, opts: StartIngestionOptions = {}): Promise<StartedIngestion> {
  const flags: IngestionFlags = { ...DEFAULT_FLAGS, ...opts.flags };
  const concurrency: IngestionConcurrency = { ...DEFAULT_CONCURRENCY, ...opts.concurrency };
  // Partial unless a full redo is asked for: a first run has nothing current and makes everything
  // all the same, but reads the cache (a script imported twice, or a story version ingested, pays nothing again).
  const mode = opts.mode ?? 'partial';
  const client = await ctx.client();
  const workflowId = ingestionWorkflowId(script.id);
  const offFlags = Object.entries(flags).filter(([, on]) => !on).map(([k]) => k);
  try {
    const handle = await client.workflow.start(ingestScript, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId,
      args: [{ scriptId: script.id, mode, flags, concurrency }],
      // Findable in the Web UI from the start (the workflow keeps the status current).
      typedSearchAttributes: storyloomSearchAttributes('ingest', script.title, 'running'),
      staticSummary: `ingest "${script.title}": ${script.scenes} scenes, ${script.characters} characters (${mode})`,
      staticDetails: [
        `**${script.title}** (script ${script.id})`,
        `scenes: ${script.scenes}, characters: ${script.characters}, mode: ${mode}`,
        `flags: ${offFlags.length ? `off: ${offFlags.join(', ')}` : 'all on'}`,
        `concurrency: summaries ${concurrency.summaries}, sheets ${concurrency.sheets}`,
      ].join('\n\n'),
    });
    return { workflowId, firstExecutionRunId: handle.firstExecutionRunId, mode, flags, concurrency, handle };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new IngestionAlreadyRunningError(workflowId, script.title);
    throw err;
  }
}
