/** `storyloom personas import <file> | list | show <name>`. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ScreenplayRepository } from '../db/repositories/screenplay.repository';
import { PersonaFileError, validatePersonaFile } from '../domain/generation/personas';
import type { CliContext } from './context';
import { decodeUtf8Text, TextDecodeError } from '../domain/text-decode';
import { checkInputFile } from './input-file';
import { UsageError } from './temporal-client';

const USAGE = 'usage: storyloom personas import <personas.json|.yaml> | list | show <name>';
const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** Reads and checks a persona file whole; any problem is a UsageError naming the entry and field (nothing is written). */
export async function readPersonaFile(file: string) {
  // A FIFO or a device would be read without end, a huge file whole: checked before it is read.
  await checkInputFile(file, MAX_FILE_BYTES);
  let raw: string;
  try {
    const bytes = await readFile(file);
    // The same checks as a screenplay or a plot: not "�" in a persona's context for a Latin-1 byte.
    raw = decodeUtf8Text(bytes, { name: file, nothing: 'no personas to import', again: 'import it again', binaryAdvice: 'Give a JSON or YAML file of personas.' });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof TextDecodeError) throw new UsageError(err.message);
    throw new UsageError((err as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  const ext = path.extname(file).toLowerCase();
  let doc: unknown;
  try {
    doc = ext === '.yaml' || ext === '.yml' ? parseYaml(raw) : JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`${file}: not valid ${ext === '.yaml' || ext === '.yml' ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return validatePersonaFile(doc);
  } catch (err) {
    if (err instanceof PersonaFileError) throw new UsageError(`${file}: ${err.message}; nothing was imported`);
    throw err;
  }
}

export async function personasCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'import') {
    if (rest.length !== 1) throw new UsageError(USAGE);
    const personas = await readPersonaFile(rest[0]);
    const result = await new ScreenplayRepository(await ctx.db()).importPersonas(personas);
    console.log(`Imported ${personas.length} persona(s) from ${path.basename(rest[0])}: ${result.created} new, ${result.updated} updated, ${result.unchanged} unchanged`);
    return 0;
  }
  if (sub === 'list') {
    if (rest.length) throw new UsageError(USAGE);
    const rows = await new ScreenplayRepository(await ctx.db()).listPersonas();
    if (!rows.length) {
      console.log('No personas yet: import some with `storyloom personas import personas.yaml`.');
      return 0;
    }
    const width = Math.min(30, Math.max(...rows.map((r) => r.name.length)));
    for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.config.description.replace(/\s+/g, ' ').slice(0, 80)}`);
    return 0;
  }
  if (sub === 'show') {
    if (rest.length !== 1) throw new UsageError(USAGE);
    const repo = new ScreenplayRepository(await ctx.db());
    let persona;
    try {
      [persona] = await repo.loadPersonas([rest[0]]);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    console.log(`${persona.name}\n\n${persona.config.description}\n\nContext:\n${persona.config.context}`);
    if (persona.config.voiceNotes.length) console.log(`\nVoice notes:\n${persona.config.voiceNotes.map((n) => `  - ${n}`).join('\n')}`);
    return 0;
  }
  throw new UsageError(USAGE);
}
