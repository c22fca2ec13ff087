/**
 * The repositories on the test database: what each write costs in statements and commits (a
 * run's figures must not grow), that writes are idempotent and skip rows whose parent a
 * re-import removed, and what a re-import keeps.
 */
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source';
import { IngestionRepository, type SummaryRow } from '../../src/db/repositories/ingestion.repository';
import { movedCount, type ImportResult } from '../../src/db/repositories/script.repository';
import { describeImport } from '../../src/cli/import.command';
import { runInActivityScope } from '../../src/observability/activity-scope';
import { readRunDbStats, RunDbStatsRecorder, sumRunDbStats } from '../../src/observability/run-db-stats';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { testDatabaseUrl } from '../helpers/harness';
import { importText } from '../helpers/scripts';

let db: DataSource;
let recorder: RunDbStatsRecorder;
let repo: IngestionRepository;
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

beforeAll(async () => {
  recorder = new RunDbStatsRecorder({ flushIntervalMs: 60_000 });
  db = createDataSource(testDatabaseUrl(), { poolSize: 2, logger: recorder });
  await db.initialize();
  recorder.start(db);
  repo = new IngestionRepository(db);
});
afterAll(async () => {
  await recorder?.close();
  await db?.destroy();
});

/** The statements and commits `fn` sends, counted as the app counts a run's. */
async function cost(fn: () => Promise<unknown>): Promise<{ queries: number; commits: number }> {
  const workflowId = `repo-cost-${Date.now()}-${n++}`;
  await runInActivityScope({ workflowId, runId: 'run-1', activityId: '1', activityType: 'test', attempt: 1, taskQueue: 'q' }, fn);
  await recorder.flush();
  return sumRunDbStats(await readRunDbStats(db, [workflowId]));
}

async function sceneIdsOf(scriptId: string): Promise<number[]> {
  const rows: { id: string }[] = await db.query('SELECT id FROM scenes WHERE script_id = $1 ORDER BY position', [scriptId]);
  return rows.map((r) => Number(r.id));
}

async function characterIdsOf(scriptId: string): Promise<number[]> {
  const rows: { id: string }[] = await db.query('SELECT id FROM characters WHERE script_id = $1 ORDER BY name', [scriptId]);
  return rows.map((r) => Number(r.id));
}

const summaryRow = (sceneId: number, summary = `summary of ${sceneId}`): SummaryRow => ({ sceneId, contentHash: 'h', model: 'm', promptVersion: 'v1', summary });

describe('what each write costs', () => {
  it('a batch of summaries is one statement and one commit', async () => {
    const script = await importText(db, syntheticScreenplay({ scenes: 25, characters: 3, title: 'Cost' }), { title: title('Cost') });
    const ids = await sceneIdsOf(script.scriptId);
    expect(await cost(() => repo.saveSummaries(ids.map((id) => summaryRow(id))))).toEqual({ queries: 1, commits: 1 });
  });

  it('a batch of sheets, an outline, and the run row are one statement and one commit each', async () => {
    const script = await importText(db, syntheticScreenplay({ scenes: 6, characters: 4, title: 'Cost2' }), { title: title('Cost2') });
    const characters = await characterIdsOf(script.scriptId);
    const sheets = characters.map((characterId) => ({ characterId, sheet: { role: 'r' }, model: 'm', promptVersion: 'v1', inputHash: 'h' }));
    expect(await cost(() => repo.saveSheets(sheets))).toEqual({ queries: 1, commits: 1 });
    expect(await cost(() => repo.saveOutline({ scriptId: script.scriptId, outline: 'o', model: 'm', promptVersion: 'v1', sections: 1, inputHash: 'h' }))).toEqual({ queries: 1, commits: 1 });
    const runId = `run-${Date.now()}-${n++}`;
    const run = { workflowId: 'wf', runId, scriptId: script.scriptId, mode: 'full', flags: {}, concurrency: {} };
    expect(await cost(() => repo.startRun(run))).toEqual({ queries: 1, commits: 1 });
    expect(await cost(() => repo.finishRun(runId, 'completed', { ok: true }, []))).toEqual({ queries: 1, commits: 1 });
  });

  it('embeddings past one statement (200 rows) go in one transaction', async () => {
    const script = await importText(db, syntheticScreenplay({ scenes: 250, characters: 3, title: 'Cost3' }), { title: title('Cost3') });
    const ids = await sceneIdsOf(script.scriptId);
    const rows = ids.map((sceneId) => ({ sceneId, inputHash: 'h', model: 'm', vector: [0.5, -0.25, 1] }));
    expect(await cost(() => repo.saveEmbeddings(rows.slice(0, 200)))).toEqual({ queries: 1, commits: 1 });
    // START TRANSACTION, two INSERTs, COMMIT.
    expect(await cost(() => repo.saveEmbeddings(rows))).toEqual({ queries: 4, commits: 1 });
    const [stored] = await db.query('SELECT count(*)::int AS n, min(dimensions) AS dims FROM scene_embeddings WHERE scene_id = ANY($1::bigint[])', [ids]);
    expect(stored).toEqual({ n: 250, dims: 3 });
    expect(await repo.embeddingStates(script.scriptId)).toEqual([]); // no summaries yet: nothing to embed
  });
});

describe('what an import costs', () => {
  it('one transaction; a first import and a re-import with changed, moved and removed scenes', async () => {
    const t = title('ImportCost');
    const text = syntheticScreenplay({ scenes: 8, characters: 4, title: t, salt: t });
    // START TRANSACTION, lock the title, find the script, insert it, upsert scenes, delete gone
    // characters, upsert characters, delete old links, insert links, COMMIT.
    expect(await cost(() => importText(db, text, { title: t }))).toEqual({ queries: 10, commits: 1 });
    const edited = text.replace('in scene 2 ', 'in scene 2 EDITED ').replace(/\n(INT|EXT)\. [^\n]*\n\n[^\n]*in scene 5 [\s\S]*?(?=\n(INT|EXT)\. )/, '');
    // + read the old scenes, delete the removed one, park positions, upsert unchanged scenes
    // apart from the changed one; update the script instead of inserting it.
    let reimport: ImportResult | undefined;
    expect(await cost(async () => (reimport = await importText(db, edited, { title: t })))).toEqual({ queries: 14, commits: 1 });
    expect(reimport).toMatchObject({ scenes: 7, removedScenes: 1, changedScenes: 1, unchangedScenes: 6 });
  });
});

describe('writes', () => {
  it('are idempotent: a repeated batch rewrites the same rows', async () => {
    const script = await importText(db, syntheticScreenplay({ scenes: 3, characters: 2, title: 'Repeat' }), { title: title('Repeat') });
    const ids = await sceneIdsOf(script.scriptId);
    await repo.saveSummaries(ids.map((id) => summaryRow(id, 'first')));
    await repo.saveSummaries(ids.map((id) => summaryRow(id, 'second')));
    const stored = await repo.summariesInOrder(script.scriptId);
    expect(stored.map((s) => [s.id, s.summary])).toEqual(ids.map((id) => [id, 'second']));
  });

  it('skip rows whose scene or character is gone, and write the rest', async () => {
    const t = title('Gone');
    const script = await importText(db, syntheticScreenplay({ scenes: 4, characters: 3, title: t }), { title: t });
    const ids = await sceneIdsOf(script.scriptId);
    const characters = await characterIdsOf(script.scriptId);
    await db.query('DELETE FROM scenes WHERE id = $1', [ids[1]]);
    await db.query('DELETE FROM characters WHERE id = $1', [characters[0]]);

    await repo.saveSummaries(ids.map((id) => summaryRow(id)));
    await repo.saveSheets(characters.map((characterId) => ({ characterId, sheet: { role: 'r' }, model: 'm', promptVersion: 'v1', inputHash: 'h' })));
    await repo.saveEmbeddings(ids.map((sceneId) => ({ sceneId, inputHash: 'h', model: 'm', vector: [1, 2] })));

    expect((await repo.summariesInOrder(script.scriptId)).map((s) => s.id)).toEqual([ids[0], ids[2], ids[3]]);
    const sheets: { character_id: string }[] = await db.query('SELECT character_id FROM character_sheets WHERE character_id = ANY($1::bigint[]) ORDER BY character_id', [characters]);
    expect(sheets.map((s) => Number(s.character_id))).toEqual(characters.slice(1).sort((a, b) => a - b));
    expect((await repo.embeddingStates(script.scriptId)).map((e) => e.id)).toEqual([ids[0], ids[2], ids[3]]);
  });

  it("phase 2's state reads every summary once and matches the per-question reads", async () => {
    const t = title('Phase2State');
    const script = await importText(db, syntheticScreenplay({ scenes: 6, characters: 3, title: t }), { title: t });
    const ids = await sceneIdsOf(script.scriptId);
    // Scene 3 has no summary yet: no character lists it, nothing embeds it.
    await repo.saveSummaries(ids.filter((_, i) => i !== 2).map((id) => summaryRow(id, `summary of ${id}`)));
    const characters = await characterIdsOf(script.scriptId);
    await repo.saveSheets([{ characterId: characters[0], sheet: { role: 'r' }, model: 'm', promptVersion: 'v1', inputHash: 'sheet-hash' }]);
    const state = await repo.phase2State(script.scriptId);
    expect(state.scenes).toEqual(await repo.embeddingStates(script.scriptId));
    expect(state.scenes.map((s) => s.id)).not.toContain(ids[2]);
    expect(state.characters).toEqual(await repo.charactersWithScenes(script.scriptId));
    expect(state.characters.find((c) => c.id === characters[0])?.sheetInputHash).toBe('sheet-hash');
    expect(state.characters.some((c) => c.scenes.length > 1)).toBe(true);
  });

  it('a run row is written once: a retried start keeps the first', async () => {
    const script = await importText(db, syntheticScreenplay({ scenes: 2, characters: 2, title: 'Run' }), { title: title('Run') });
    const runId = `run-${Date.now()}-${n++}`;
    await repo.startRun({ workflowId: 'wf', runId, scriptId: script.scriptId, mode: 'full', flags: { a: 1 }, concurrency: { summaries: 4 } });
    await repo.finishRun(runId, 'completed', { status: 'completed' }, [{ item: 'x' }]);
    await repo.startRun({ workflowId: 'wf', runId, scriptId: script.scriptId, mode: 'partial', flags: {}, concurrency: {} });
    const [row] = await db.query('SELECT mode, flags, status, result, failures, finished_at IS NOT NULL AS finished FROM ingestion_runs WHERE run_id = $1', [runId]);
    expect(row).toEqual({ mode: 'full', flags: { a: 1 }, status: 'completed', result: { status: 'completed' }, failures: [{ item: 'x' }], finished: true });
  });
});

describe('imports at once', () => {
  it('of one new title make one script, not two', async () => {
    const t = title('SameTitle');
    const text = syntheticScreenplay({ scenes: 3, characters: 2, title: t, salt: t });
    const both = await Promise.all([importText(db, text, { title: t }), importText(db, text, { title: t })]);
    expect(both[0].scriptId).toBe(both[1].scriptId);
    const rows: { n: number }[] = await db.query('SELECT count(*)::int AS n FROM scripts WHERE lower(title) = lower($1)', [t]);
    expect(rows[0].n).toBe(1);
  });
});

describe('a re-import', () => {
  it('keeps the ids of unchanged scenes and characters, renumbers, and relinks who speaks where', async () => {
    const t = title('Reimport');
    const original = syntheticScreenplay({ scenes: 5, characters: 3, title: t, salt: t });
    const script = await importText(db, original, { title: t });
    const before: { id: string; position: number; updated_at: Date; content_hash: string }[] = await db.query(
      'SELECT id, position, updated_at, content_hash FROM scenes WHERE script_id = $1 ORDER BY position',
      [script.scriptId],
    );
    const charactersBefore = await characterIdsOf(script.scriptId);
    await new Promise((r) => setTimeout(r, 20));

    // Scene 1 removed, scene 3 edited, the rest unchanged and moved up one place. The edited
    // scene's place now holds an unchanged one, so it is stored as new and its old row removed.
    const scenes = original.split(/\n(?=(?:INT|EXT)\. )/);
    const edited = [scenes[0].replace(/\n(INT|EXT)\.[\s\S]*$/, ''), ...scenes.slice(1).filter((_, i) => i !== 0)]
      .map((part) => part.replace('in scene 3 ', 'in scene 3 EDITED '))
      .join('\n');
    const result = await importText(db, edited, { title: t });
    expect(result).toMatchObject({ scriptId: script.scriptId, created: false, scenes: 4, unchangedScenes: 3, changedScenes: 1, removedScenes: 2, movedScenes: 0 });

    const after: { id: string; position: number; updated_at: Date; content_hash: string }[] = await db.query(
      'SELECT id, position, updated_at, content_hash FROM scenes WHERE script_id = $1 ORDER BY position',
      [script.scriptId],
    );
    expect(after.map((s) => s.position)).toEqual([0, 1, 2, 3]);
    // Unchanged scenes keep their id and updated_at wherever they moved.
    expect(after.map((s) => s.id)).toEqual([before[1].id, 'new', before[3].id, before[4].id].map((id, i) => (id === 'new' ? after[i].id : id)));
    for (const old of [before[1], before[3], before[4]]) expect(after.find((s) => s.id === old.id)!.updated_at).toEqual(old.updated_at);
    expect(before.map((b) => b.id)).not.toContain(after[1].id);
    expect(after[1].updated_at.getTime()).toBeGreaterThan(before[2].updated_at.getTime());

    expect(await characterIdsOf(script.scriptId)).toEqual(charactersBefore);
    const links: { position: number; name: string }[] = await db.query(
      `SELECT s.position, c.name FROM scene_characters sc JOIN scenes s ON s.id = sc.scene_id JOIN characters c ON c.id = sc.character_id
        WHERE s.script_id = $1 ORDER BY s.position, c.name`,
      [script.scriptId],
    );
    const fresh = await importText(db, edited.replace(`Title: ${t}`, `Title: ${t} fresh`), { title: `${t} fresh` });
    const expected: { position: number; name: string }[] = await db.query(
      `SELECT s.position, c.name FROM scene_characters sc JOIN scenes s ON s.id = sc.scene_id JOIN characters c ON c.id = sc.character_id
        WHERE s.script_id = $1 ORDER BY s.position, c.name`,
      [fresh.scriptId],
    );
    expect(links.length).toBeGreaterThan(0);
    expect(links).toEqual(expected);
  });

  it('counts the fewest scenes that moved to make the new order', () => {
    expect(movedCount([])).toBe(0);
    expect(movedCount([0, 1, 2, 5, 9])).toBe(0);
    expect(movedCount([1, 0, 2])).toBe(1);
    expect(movedCount([0, 3, 2, 1, 4])).toBe(2);
    expect(movedCount([4, 3, 2, 1, 0])).toBe(4);
  });

  it('two scenes swapped: nothing changed or removed, the moved scenes counted (the order is a change)', async () => {
    const t = title('Swapped');
    const original = syntheticScreenplay({ scenes: 5, characters: 2, title: t, salt: t });
    await importText(db, original, { title: t });
    const [head, ...scenes] = original.split(/\n(?=(?:INT|EXT)\. )/);
    [scenes[1], scenes[3]] = [scenes[3], scenes[1]];
    const result = await importText(db, [head, ...scenes].join('\n'), { title: t });
    expect(result).toMatchObject({ created: false, scenes: 5, changedScenes: 0, unchangedScenes: 5, removedScenes: 0, movedScenes: 2 });
    expect(describeImport(result)).toContain('(0 new or changed, 5 unchanged, 0 removed scene(s); the order changed: 2 unchanged scene(s) moved)');
  });

  it('updates a scene edited in place: same id, new text and time', async () => {
    const t = title('InPlace');
    const original = syntheticScreenplay({ scenes: 3, characters: 2, title: t, salt: t });
    const script = await importText(db, original, { title: t });
    const [before] = await db.query('SELECT id, updated_at FROM scenes WHERE script_id = $1 AND position = 1', [script.scriptId]);
    await new Promise((r) => setTimeout(r, 20));
    const result = await importText(db, original.replace('in scene 2 ', 'in scene 2 EDITED '), { title: t });
    expect(result).toMatchObject({ unchangedScenes: 2, changedScenes: 1, removedScenes: 0 });
    const [after] = await db.query('SELECT id, text, updated_at FROM scenes WHERE script_id = $1 AND position = 1', [script.scriptId]);
    expect(after.id).toBe(before.id);
    expect(after.text).toContain('in scene 2 EDITED');
    expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
  });

  it('drops characters that no longer speak, with their links', async () => {
    const t = title('Fewer');
    const script = await importText(db, syntheticScreenplay({ scenes: 6, characters: 4, title: t, salt: t }), { title: t });
    const result = await importText(db, syntheticScreenplay({ scenes: 6, characters: 2, title: t, salt: t }), { title: t });
    expect(result.characters).toBe(2);
    const [{ n: characters }] = await db.query('SELECT count(*)::int AS n FROM characters WHERE script_id = $1', [script.scriptId]);
    expect(characters).toBe(2);
    const [{ n: orphans }] = await db.query(
      `SELECT count(*)::int AS n FROM scene_characters sc JOIN scenes s ON s.id = sc.scene_id
         JOIN characters c ON c.id = sc.character_id WHERE s.script_id = $1 AND c.script_id <> s.script_id`,
      [script.scriptId],
    );
    expect(orphans).toBe(0);
  });
});
