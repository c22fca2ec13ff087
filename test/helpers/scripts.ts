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

/** Deletes what ingestion stored for a script (summaries, outline, sheets, embeddings), so a partial run must make them again. */
export async function forgetIngestionResults(db: DataSource, scriptId: string): Promise<void> {
  await db.query('DELETE FROM scene_summaries WHERE scene_id IN (SELECT id FROM scenes WHERE script_id = $1)', [scriptId]);
  await db.query('DELETE FROM scene_embeddings WHERE scene_id IN (SELECT id FROM scenes WHERE script_id = $1)', [scriptId]);
  await db.query('DELETE FROM character_sheets WHERE character_id IN (SELECT id FROM characters WHERE script_id = $1)', [scriptId]);
  await db.query('DELETE FROM script_outlines WHERE script_id = $1', [scriptId]);
}
