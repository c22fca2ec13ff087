/** Persona import (good files and each bad case, nothing written), list, show, and the one-query load. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataSource, Logger as TypeOrmLogger } from 'typeorm';
import { createDataSource } from '../../src/db/data-source';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { UnknownPersonasError } from '../../src/domain/generation/personas';
import { runCli } from '../helpers/cli';
import { testDatabaseUrl } from '../helpers/harness';

const FIXTURES = path.join(__dirname, '../fixtures/personas');
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-personas-'));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

/** Counts the statements a DataSource sends. */
class StatementCounter implements TypeOrmLogger {
  statements: string[] = [];
  logQuery(query: string) {
    this.statements.push(query);
  }
  logQueryError() {}
  logQuerySlow() {}
  logSchemaBuild() {}
  logMigration() {}
  log() {}
}

let db: DataSource;
const counter = new StatementCounter();
const saved = { ...process.env };
/**
 * Personas named as the refused files' entries are (no other test uses these names): other test
 * files write personas to the same database meanwhile, so a count of every persona is not this
 * import's.
 */
const REFUSED_NAMES = ['x', 'ada', 'ok', 'zed', 'zed\ufffd', 'x'.repeat(101)];
const refusedNamesCount = async () => Number((await db.query('SELECT count(*) AS n FROM personas WHERE lower(name) = ANY($1)', [REFUSED_NAMES]))[0].n);

beforeAll(async () => {
  process.env.DATABASE_URL = testDatabaseUrl();
  db = createDataSource(testDatabaseUrl(), { poolSize: 2, logger: counter });
  await db.initialize();
});
afterAll(async () => {
  process.env = saved;
  await db?.destroy();
});

it('imports a YAML file and a JSON file, lists and shows personas, and updates on re-import', async () => {
  const yaml = await runCli('personas', 'import', path.join(FIXTURES, 'crew.yaml'));
  expect(yaml).toMatchObject({ code: 0 });
  // Other test files of the run may have imported the crew already (one database per run).
  expect(yaml.out).toMatch(/Imported 5 persona\(s\) from crew\.yaml: \d new, \d updated/);
  // A re-import of the same file changes nothing, and says so.
  expect((await runCli('personas', 'import', path.join(FIXTURES, 'crew.yaml'))).out).toContain('0 new, 0 updated, 5 unchanged');
  expect((await runCli('personas', 'import', path.join(FIXTURES, 'two.json'))).out).toContain('2 new');
  const two = await db.query(`SELECT name, updated_at FROM personas WHERE name IN ('Ada Vance', 'Bram Stoll') ORDER BY name`);
  expect((await runCli('personas', 'import', path.join(FIXTURES, 'two.json'))).out).toContain('0 new, 0 updated, 2 unchanged');
  expect(await db.query(`SELECT name, updated_at FROM personas WHERE name IN ('Ada Vance', 'Bram Stoll') ORDER BY name`)).toEqual(two);
  // One persona changed: one updated (keys in another order are the same JSON, not a change).
  const edited = file('two-edited.json', JSON.stringify([
    { voice_notes: ['precise'], context: 'Ada measures everything twice and trusts nothing once.', description: 'A cartographer of vanished islands.', name: 'Ada Vance' },
    { name: 'Bram Stoll', description: 'A lighthouse keeper on his very last week.', context: 'Bram counts down the days aloud.' },
  ]));
  expect((await runCli('personas', 'import', edited)).out).toContain('0 new, 1 updated, 1 unchanged');
  expect((await runCli('personas', 'import', path.join(FIXTURES, 'two.json'))).out).toContain('0 new, 1 updated, 1 unchanged');

  const list = await runCli('personas', 'list');
  expect(list.code).toBe(0);
  for (const name of ['Mara Quill', 'Tobias Wren', 'Ines Calder', 'Old Harlan', 'Juno Park', 'Ada Vance', 'Bram Stoll']) expect(list.out).toContain(name);

  const show = await runCli('personas', 'show', 'Ines Calder');
  expect(show.code).toBe(0);
  // system_prompt is the context's other name.
  expect(show.out).toContain('She asks questions she already knows the answers to.');
  const mara = await runCli('personas', 'show', 'Mara Quill');
  expect(mara.out).toContain('  - clipped, nautical');
});

it('answers an unknown name with the closest existing names (exit 2)', async () => {
  const r = await runCli('personas', 'show', 'Mara Quil');
  expect(r.code).toBe(2);
  expect(r.err).toContain('no persona "Mara Quil" (closest: "Mara Quill")');
});

const BAD: [string, string, string, string][] = [
  ['not JSON', 'bad.json', '{"personas": [', 'not valid JSON'],
  ['not YAML', 'bad.yaml', 'personas: [\n  - name: x\n', 'not valid YAML'],
  ['no list', 'nolist.json', '{"people": []}', 'expected a list of personas'],
  ['an empty list', 'empty.json', '[]', 'the file lists no personas'],
  ['an entry that is no object', 'scalar.json', '["Ada"]', 'entry 1: expected an object'],
  ['a missing name', 'noname.json', '[{"description": "d", "context": "c"}]', 'entry 1, field "name": required, a non-empty string'],
  ['a missing context', 'nocontext.yaml', 'personas:\n  - name: Ok\n    description: d\n    context: c\n  - name: Zed\n    description: d\n', 'entry 2 ("Zed"), field "context": required, a non-empty string'],
  ['a missing description', 'nodesc.json', '[{"name": "Zed", "context": "c"}]', 'entry 1 ("Zed"), field "description": required'],
  ['an unknown field', 'unknown.json', '[{"name": "Zed", "description": "d", "context": "c", "age": 3}]', 'entry 1 ("Zed"), field "age": unknown field'],
  ['a duplicate name', 'dup.json', '[{"name": "Zed", "description": "d", "context": "c"}, {"name": "zed", "description": "d", "context": "c"}]', 'entry 2 ("zed"), field "name": "zed" is also entry 1'],
  ['bad voice notes', 'voice.json', '[{"name": "Zed", "description": "d", "context": "c", "voice_notes": [1]}]', 'field "voice_notes": a string or a list of non-empty strings'],
  ['context and system_prompt both', 'both.json', '[{"name": "Zed", "description": "d", "context": "c", "system_prompt": "s"}]', 'field "system_prompt": give "context" or "system_prompt", not both'],
  ['a name too long', 'long.json', `[{"name": "${'x'.repeat(101)}", "description": "d", "context": "c"}]`, 'field "name": 101 characters; at most 100'],
  // Postgres takes no U+0000 in text or JSONB: the insert failed (exit 1) before the file was checked for it.
  ['a NUL character in a name', 'nul-name.json', '[{"name": "Zed\\u0000x", "description": "d", "context": "c"}]', 'entry 1 ("Zed\\u0000x"), field "name": holds a NUL character'],
  ['a NUL character in a voice note', 'nul-note.json', '[{"name": "Zed", "description": "d", "context": "c", "voice_notes": ["a\\u0000"]}]', 'entry 1 ("Zed"), field "voice_notes": holds a NUL character'],
  // Postgres stored a lone surrogate as U+FFFD: a persona no one could name again (the API refused it already).
  ['a lone surrogate in a name', 'surrogate-name.json', '[{"name": "Ok", "description": "d", "context": "c"}, {"name": "Zed\\ud800", "description": "d", "context": "c"}]', 'entry 2 ("Zed\\ud800"), field "name": holds an unpaired UTF-16 surrogate'],
  ['a lone surrogate in a context', 'surrogate-context.yaml', 'personas:\n  - name: Zed\n    description: d\n    context: "a\\udc00b"\n', 'entry 1 ("Zed"), field "context": holds an unpaired UTF-16 surrogate'],
];

it.each(BAD)('refuses a file with %s whole: exit 2, entry and field named, nothing written', async (_what, name, content, message) => {
  const before = await refusedNamesCount();
  // A good entry first: it must not be written either.
  const r = await runCli('personas', 'import', file(name, content));
  expect(r.code).toBe(2);
  expect(r.err).toContain(message);
  expect(await refusedNamesCount()).toBe(before);
});

it('refuses a Latin-1 file as not UTF-8 text (exit 2, nothing written), not importing "�" for its accents', async () => {
  const before = await refusedNamesCount();
  const p = path.join(dir, 'latin1.json');
  // "Zed", a context with "é" in Latin-1 (0xE9): not valid UTF-8.
  writeFileSync(p, Buffer.concat([Buffer.from('[{"name": "Zed", "description": "d", "context": "caf'), Buffer.from([0xe9]), Buffer.from('"}]')]));
  const r = await runCli('personas', 'import', p);
  expect(r.code).toBe(2);
  expect(r.err).toContain('is not UTF-8 text');
  expect(await refusedNamesCount()).toBe(before);
});

it('refuses a missing file (exit 2)', async () => {
  const r = await runCli('personas', 'import', path.join(dir, 'nope.yaml'));
  expect(r).toMatchObject({ code: 2 });
  expect(r.err).toContain('file not found');
});

describe('loading persona contexts', () => {
  const names = ['Mara Quill', 'Tobias Wren', 'Ines Calder', 'Old Harlan', 'Juno Park'];

  it('loads five personas in one statement, in the order asked', async () => {
    const repo = new ScreenplayRepository(db);
    counter.statements = [];
    const loaded = await repo.loadPersonas(names);
    expect(loaded.map((p) => p.name)).toEqual(names);
    expect(loaded[2].config.context).toContain('charming and precise');
    expect(counter.statements).toHaveLength(1);
    expect(counter.statements[0]).toContain('name = ANY($1)');
  });

  it('fails an unknown name with the closest names after one more, name-only, statement', async () => {
    const repo = new ScreenplayRepository(db);
    counter.statements = [];
    const err = await repo.loadPersonas(['Mara Quill', 'Tobias Wrenn', 'Nobody At All']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownPersonasError);
    expect((err as UnknownPersonasError).unknown).toEqual([
      { name: 'Tobias Wrenn', closest: ['Tobias Wren'] },
      { name: 'Nobody At All', closest: [] },
    ]);
    expect(counter.statements).toEqual([expect.stringContaining('name = ANY($1)'), 'SELECT name FROM personas']);
  });

  it('the seed\'s way costs a statement per persona', async () => {
    counter.statements = [];
    await new ScreenplayRepository(db).loadPersonasOneByOne(names);
    expect(counter.statements).toHaveLength(5);
  });
});
