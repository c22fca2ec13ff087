import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { DataSource } from 'typeorm';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { validatePersonaFile } from '../../src/domain/generation/personas';
import { FIXTURES } from './scripts';

/** The five personas of test/fixtures/personas/crew.yaml. */
export const CREW = ['Mara Quill', 'Tobias Wren', 'Ines Calder', 'Old Harlan', 'Juno Park'];

export async function importCrew(db: DataSource): Promise<void> {
  const doc: unknown = parse(readFileSync(path.join(FIXTURES, 'personas/crew.yaml'), 'utf8'));
  await new ScreenplayRepository(db).importPersonas(validatePersonaFile(doc));
}

export const HARBOUR_PLOT = readFileSync(path.join(FIXTURES, 'plots/harbour.txt'), 'utf8');
