import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { ScriptRepository, type ImportResult } from '../../src/db/repositories/script.repository';
import { parseScreenplay } from '../../src/domain/screenplay';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';

/** The project's own screenplay fixtures (see test/fixtures/README.md). */
export const FIXTURES = path.resolve(__dirname, '../fixtures');

export function importText(db: DataSource, text: string, opts: { title: string; fileName?: string; scriptId?: string }): Promise<ImportResult> {
  const parsed = parseScreenplay(Buffer.from(text), opts.fileName ?? 'script.fountain');
  return new ScriptRepository(db).importScreenplay(parsed, { title: opts.title, sourceName: opts.fileName ?? 'script.fountain', scriptId: opts.scriptId });
}

export function importFixture(db: DataSource, relative: string, title: string): Promise<ImportResult> {
  const bytes = readFileSync(path.join(FIXTURES, relative));
  return new ScriptRepository(db).importScreenplay(parseScreenplay(bytes, path.basename(relative)), { title, sourceName: path.basename(relative) });
}

/** A synthetic script under a unique title, so tests never share one. */
export function importSynthetic(db: DataSource, scenes: number, characters: number, title: string): Promise<ImportResult> {
  return importText(db, syntheticScreenplay({ scenes, characters, title, salt: title }), { title });
}
