import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ImportResult } from '../db/repositories/script.repository';
import { MAX_SCREENPLAY_BYTES } from '../domain/screenplay';
import type { OperationContext } from '../operations/context';
import { importScreenplayBytes, scriptTitleProblem } from '../operations/import-script';
import type { CliContext } from './context';
import { checkInputFile } from './input-file';
import { UsageError } from './temporal-client';

/**
 * Reads a screenplay file and imports it (src/operations/import-script.ts); nothing is written
 * when any step fails or when the script it would update is being ingested (IngestionRunningError).
 */
export async function importFile(ctx: OperationContext, file: string, opts: { scriptId?: string; title?: string }): Promise<ImportResult> {
  // As the API's upload refuses the same titles.
  const titleProblem = opts.title === undefined ? undefined : scriptTitleProblem(opts.title);
  if (titleProblem) throw new UsageError(`--title ${titleProblem}.`);
  // An empty id is not "no id": it would fall back to matching by title and update whichever script has it.
  if (opts.scriptId !== undefined && opts.scriptId.trim() === '') throw new UsageError('--script-id must not be empty (leave it out to match the script by its title).');
  await checkInputFile(file, MAX_SCREENPLAY_BYTES);
  return importScreenplayBytes(ctx, await readFile(file), path.basename(file), { ...opts, label: file });
}

export function describeImport(r: ImportResult): string {
  const what = r.created
    ? `Imported "${r.title}"`
    : `Updated "${r.title}" (${r.changedScenes} new or changed, ${r.unchangedScenes} unchanged, ${r.removedScenes} removed scene(s)` +
      // A new order is a change the next ingestion makes again (the outline, the sheets of the scenes' speakers).
      `${r.movedScenes ? `; the order changed: ${r.movedScenes} unchanged scene(s) moved` : ''})`;
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
