import { WorkflowNotFoundError } from '@temporalio/client';
import { RunRepository } from '../db/repositories/run.repository';
import { ingestionWorkflowId } from '../shared/ingestion';
import { pauseSignal, progressQuery, resumeSignal } from '../workflows';
import type { CliContext } from './context';
import { describeResult } from './ingest.command';
import { progressLine } from './progress-bar';
import { UsageError, webUiLink } from './temporal-client';

async function runningHandle(ctx: CliContext, idOrTitle: string) {
  const script = await ctx.script(idOrTitle);
  const workflowId = ingestionWorkflowId(script.id);
  const handle = (await ctx.client()).workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    return { script, workflowId, handle, running: desc.status.name === 'RUNNING' };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { script, workflowId, handle, running: false };
    throw err;
  }
}

/** `status`: the live progress of a running ingestion, else the last run's row. */
export async function statusCommand(ctx: CliContext, argv: string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError('usage: storyloom status <scriptId>');
  const { script, workflowId, handle, running } = await runningHandle(ctx, argv[0]);
  if (running) {
    console.log(`"${script.title}": running — ${webUiLink(ctx.config, workflowId)}`);
    console.log(progressLine(await handle.query(progressQuery)));
    return 0;
  }
  const last = await new RunRepository(await ctx.db()).lastIngestionRun(script.id);
  if (!last) {
    console.log(`"${script.title}" has not been ingested yet: \`storyloom ingest ${script.id}\`.`);
    return 0;
  }
  console.log(`"${script.title}": last run ${last.status}, started ${last.startedAt.toISOString()}`);
  if (last.result) console.log(describeResult(last.result));
  return 0;
}

export function steerCommand(action: 'pause' | 'resume' | 'cancel') {
  return async (ctx: CliContext, argv: string[]): Promise<number> => {
    if (argv.length !== 1) throw new UsageError(`usage: storyloom ${action} <scriptId>`);
    const { script, handle, running } = await runningHandle(ctx, argv[0]);
    if (!running) {
      console.error(`No ingestion of "${script.title}" is running.`);
      return 1;
    }
    if (action === 'pause') await handle.signal(pauseSignal);
    else if (action === 'resume') await handle.signal(resumeSignal);
    else await handle.cancel();
    const verb = { pause: 'Paused (calls in flight finish; no new ones start)', resume: 'Resumed', cancel: 'Cancel requested (calls in flight are aborted; what was written stays)' }[action];
    console.log(`${verb}: "${script.title}"`);
    return 0;
  };
}
