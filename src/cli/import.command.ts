import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AmbiguousTitleError, ScriptNotFoundError, ScriptRepository, type ImportResult } from '../db/repositories/script.repository';
import { MAX_SCREENPLAY_BYTES, parseScreenplay, ScreenplayParseError } from '../domain/screenplay';
import type { CliContext } from './context';
import { UsageError } from './temporal-client';

/** Reads, parses and stores a screenplay in one transaction; nothing is written when any step fails. */
export async function importFile(ctx: CliContext, file: string, opts: { scriptId?: string; title?: string }): Promise<ImportResult> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file.`);
    size = info.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`);
  }
  if (size > MAX_SCREENPLAY_BYTES) {
    throw new UsageError(`${file}: the file is ${(size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_SCREENPLAY_BYTES / 1024 / 1024} MB.`);
  }
  let parsed;
  try {
    parsed = parseScreenplay(await readFile(file), path.basename(file));
  } catch (err) {
    if (err instanceof ScreenplayParseError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  const title = opts.title ?? parsed.title ?? path.basename(file).replace(/\.[^.]+$/, '');
  try {
    return await new ScriptRepository(await ctx.db()).importScreenplay(parsed, { scriptId: opts.scriptId, title, sourceName: path.basename(file) });
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
