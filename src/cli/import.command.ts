import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { IngestionRepository } from '../db/repositories/ingestion.repository';
import { AmbiguousTitleError, ScriptNotFoundError, ScriptRepository, type ImportResult } from '../db/repositories/script.repository';
import { MAX_SCREENPLAY_BYTES, parseScreenplay, ScreenplayParseError } from '../domain/screenplay';
import { ingestionWorkflowId } from '../shared/ingestion';
import type { CliContext } from './context';
import { checkInputFile } from './input-file';
import { UsageError } from './temporal-client';

/** The script an import would update is being ingested: importing would rewrite its scenes under the run. */
export class IngestionRunningError extends UsageError {
  constructor(
    readonly scriptId: string,
    readonly workflowId: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Refuses when the script's ingestion is running. Temporal is asked (`ingest-<scriptId>` RUNNING);
 * when it cannot be reached, the run table is the witness. Checked before the import's
 * transaction: a run started in the moment between is not caught (the run then reads either the
 * old or the new scenes, each whole).
 */
async function refuseWhileIngesting(ctx: CliContext, scriptId: string, title: string): Promise<void> {
  const workflowId = ingestionWorkflowId(scriptId);
  let running: boolean;
  let unconfirmed = '';
  try {
    running = (await (await ctx.client()).workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) running = false;
    else if (err instanceof UsageError) {
      running = (await new IngestionRepository(await ctx.db()).runningWorkflowId(scriptId)) !== undefined;
      unconfirmed = ' (recorded as running; Temporal could not be reached to confirm)';
    } else throw err;
  }
  if (!running) return;
  throw new IngestionRunningError(
    scriptId,
    workflowId,
    `"${title}" is being ingested by workflow ${workflowId}${unconfirmed}: importing now would change its scenes under the run, so nothing was written. ` +
      `Wait for it (\`storyloom status ${scriptId}\`) or cancel it (\`storyloom cancel ${scriptId}\`), then import again.`,
  );
}

/**
 * Reads, parses and stores a screenplay in one transaction; nothing is written when any step fails
 * or when the script it would update is being ingested (IngestionRunningError).
 */
export async function importFile(ctx: CliContext, file: string, opts: { scriptId?: string; title?: string }): Promise<ImportResult> {
  await checkInputFile(file, MAX_SCREENPLAY_BYTES);
  let parsed;
  try {
    parsed = parseScreenplay(await readFile(file), path.basename(file));
  } catch (err) {
    if (err instanceof ScreenplayParseError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  const title = opts.title ?? parsed.title ?? path.basename(file).replace(/\.[^.]+$/, '');
  const importOptions = { scriptId: opts.scriptId, title, sourceName: path.basename(file) };
  try {
    const db = await ctx.db();
    const repo = new ScriptRepository(db);
    const target = await repo.findTarget(db.manager, importOptions);
    if (target) await refuseWhileIngesting(ctx, target, title);
    return await repo.importScreenplay(parsed, importOptions);
  } catch (err) {
    if (err instanceof ScriptNotFoundError || err instanceof AmbiguousTitleError) throw new UsageError(err.message);
    throw err;
  }
}

export function describeImport(r: ImportResult): string {
  const what = r.created
    ? `Imported "${r.title}"`
    : `Updated "${r.title}" (${r.changedScenes} new or changed, ${r.unchangedScenes} unchanged, ${r.removedScenes} removed scene(s))`;
  return `${what}\nscript id: ${r.scriptId}\nscenes: ${r.scenes}\ncharacters: ${r.characters}`;
}

export async function importCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'script-id': { type: 'string' }, title: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('usage: storyloom import <file> [--script-id ID] [--title TITLE]');
  const result = await importFile(ctx, positionals[0], { scriptId: values['script-id'], title: values.title });
  console.log(describeImport(result));
  return 0;
}
