/**
 * Importing a screenplay's bytes: parse, refuse while the script is being ingested, store in one
 * transaction. Shared by `storyloom import` / `ingest <file>` and `POST /api/scripts`.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { IngestionRepository } from '../db/repositories/ingestion.repository';
import { AmbiguousTitleError, ScriptNotFoundError, ScriptRepository, TitleTakenError, type ImportResult } from '../db/repositories/script.repository';
import { parseScreenplay, ScreenplayParseError, type ParsedScreenplay, type ScreenplayParseErrorCode } from '../domain/screenplay';
import { ingestionWorkflowId } from '../shared/ingestion';
import { UsageError } from '../cli/temporal-client';
import { OperationError, type OperationContext, type OperationErrorCode } from './context';
import { oneLineProblem } from '../shared/one-line';

/** The script an import would update is being ingested: importing would rewrite its scenes under the run. */
export class IngestionRunningError extends OperationError {
  constructor(
    readonly scriptId: string,
    readonly workflowId: string,
    /** What is refused and why, without what to do (the CLI names commands, the API its routes). */
    readonly situation: string,
  ) {
    super('conflict', `${situation} Wait for it (\`storyloom status ${scriptId}\`) or cancel it (\`storyloom cancel ${scriptId}\`), then import again.`);
  }
}

/**
 * Refuses when the script's ingestion is running. Temporal is asked (`ingest-<scriptId>` RUNNING);
 * when it cannot be reached, the run table is the witness. Checked before the import's
 * transaction: a run started in the moment between is not caught (the run then reads either the
 * old or the new scenes, each whole).
 */
async function refuseWhileIngesting(ctx: OperationContext, scriptId: string, title: string): Promise<void> {
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
    `"${title}" is being ingested by workflow ${workflowId}${unconfirmed}: importing now would change its scenes under the run, so nothing was written.`,
  );
}

const PARSE_ERROR_CODES: Record<ScreenplayParseErrorCode, OperationErrorCode> = {
  empty: 'bad_request',
  no_scenes: 'bad_request',
  malformed_xml: 'bad_request',
  too_large: 'payload_too_large',
  not_text: 'unsupported_media_type',
  too_many_scenes: 'payload_too_large',
  xml_entities: 'bad_request',
};

/** Parses a screenplay's bytes; a refusal is an OperationError whose message starts with `label`. */
export function parseScreenplayBytes(bytes: Uint8Array, fileName: string, label: string): ParsedScreenplay {
  try {
    return parseScreenplay(bytes, fileName);
  } catch (err) {
    if (err instanceof ScreenplayParseError) throw new OperationError(PARSE_ERROR_CODES[err.code], `${label}: ${err.message}`);
    throw err;
  }
}

export interface ImportBytesOptions {
  /** Update this script (else the script with the same title, else a new one). */
  scriptId?: string;
  /** The title to store; by default the file's title page (else its name), or with `scriptId` the script's own. */
  title?: string;
  /** Names the bytes in messages (the path the CLI read, the uploaded file's name). */
  label?: string;
}

/**
 * Parses and stores a screenplay in one transaction; nothing is written when any step fails
 * or when the script it would update is being ingested (IngestionRunningError).
 */
/** The most characters a script's given title has (the CLI's `--title`, the API's `title`). */
export const MAX_SCRIPT_TITLE_CHARS = 500;

/**
 * What is wrong with a title given for a script, or undefined: blank (it would name no script),
 * too long, or more than one line (a line break would split every line that names the script,
 * and its Web UI label, in two). Shared by `import --title` and the API's upload.
 */
export function scriptTitleProblem(title: string): string | undefined {
  if (!title.trim()) return 'must not be blank (leave it out to take the title from the file)';
  if (title.length > MAX_SCRIPT_TITLE_CHARS) return `has ${title.length} characters; the limit is ${MAX_SCRIPT_TITLE_CHARS}`;
  return oneLineProblem(title);
}

/**
 * A title taken from the file (its title page, else its name) meets what a given title must:
 * one line without control characters (a terminal escape in a title page would reach every
 * terminal that lists the script), at most MAX_SCRIPT_TITLE_CHARS. Empty when nothing is left.
 */
export function derivedTitle(raw: string): string {
  // C0 and C1 controls (U+009B is a terminal's CSI), line and paragraph separators, bidi overrides.
  return raw.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_SCRIPT_TITLE_CHARS).trimEnd();
}

export async function importScreenplayBytes(
  ctx: OperationContext,
  bytes: Uint8Array,
  fileName: string,
  opts: ImportBytesOptions = {},
): Promise<ImportResult> {
  // The source name is stored: Postgres cannot store a NUL (an upload's part may be named with one).
  if (fileName.includes('\u0000')) throw new OperationError('bad_request', 'The file name holds a NUL character (U+0000), which cannot be stored; nothing was written.');
  const parsed = parseScreenplayBytes(bytes, fileName, opts.label ?? fileName);
  try {
    const db = await ctx.db();
    const repo = new ScriptRepository(db);
    // An update by id with no --title keeps the script's title: a title page that another script
    // also has must not make a re-import fail (only an explicit --title renames, and is checked).
    const kept = opts.scriptId && opts.title === undefined ? await repo.findScript(opts.scriptId).catch(() => undefined) : undefined;
    const title = opts.title ?? (kept && kept.id === opts.scriptId ? kept.title : undefined) ?? (derivedTitle(parsed.title ?? '') || derivedTitle(fileName.replace(/\.[^.]+$/, '')) || 'Untitled');
    const importOptions = { scriptId: opts.scriptId, title, sourceName: fileName };
    const target = await repo.findTarget(db.manager, importOptions);
    if (target) await refuseWhileIngesting(ctx, target, title);
    return await repo.importScreenplay(parsed, importOptions);
  } catch (err) {
    if (err instanceof ScriptNotFoundError) throw new OperationError('not_found', err.message);
    if (err instanceof AmbiguousTitleError || err instanceof TitleTakenError) throw new OperationError('conflict', err.message);
    throw err;
  }
}
