/**
 * The migrations (src/db/migrations) on a fresh database of their own: all up, rows in the key
 * tables, every one reverted (newest first) until none is applied and nothing of storyloom's
 * schema is left, then all up again to the same schema as the first time.
 */
import { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, ensureDatabase } from '../../src/db/data-source';
import { migrations } from '../../src/db/migrations';
import { testDatabaseUrl } from '../helpers/harness';

/** TypeORM's bookkeeping table: not the app's schema. */
const BOOKKEEPING = 'migrations';

const databaseUrl = (() => {
  const url = new URL(testDatabaseUrl());
  url.pathname = `${url.pathname}_mig_${process.pid}`;
  return url.toString();
})();

/** The migrations in the order they run (by timestamp, whatever the list's order). */
const timestamp = (name: string) => Number(name.match(/(\d{13})$/)![1]);
const ordered = [...migrations].sort((a, b) => timestamp(new a().name as string) - timestamp(new b().name as string));
const byTimestamp = ordered.map((M) => new M().name as string);

let db: DataSource | undefined;

beforeAll(async () => {
  await dropDatabase(databaseUrl); // a leftover of an interrupted run
  expect(await ensureDatabase(databaseUrl)).toBe(true);
  db = createDataSource(databaseUrl, { poolSize: 1 });
  await db.initialize();
});
afterAll(async () => {
  await db?.destroy();
  await dropDatabase(databaseUrl);
});

const q = <T>(sql: string, params: unknown[] = []): Promise<T[]> => db!.query(sql, params);

interface Schema {
  tables: string[];
  columns: string[];
  indexes: string[];
  constraints: string[];
  sequences: string[];
  other: string[];
}

/** The public schema apart from the bookkeeping table, as sorted lines (easy to diff). */
async function schema(): Promise<Schema> {
  const lines = async (sql: string, params: unknown[] = [BOOKKEEPING]) => (await q<{ line: string }>(sql, params)).map((r) => r.line).sort();
  return {
    tables: await lines(`SELECT table_name || ' ' || table_type AS line FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> $1`),
    columns: await lines(`
      SELECT concat_ws(' | ', table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default,
                       character_maximum_length, numeric_precision, is_identity) AS line
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1`),
    indexes: await lines(`SELECT tablename || ' | ' || indexname || ' | ' || indexdef AS line FROM pg_indexes WHERE schemaname = 'public' AND tablename <> $1`),
    constraints: await lines(`
      SELECT c.conrelid::regclass::text || ' | ' || c.conname || ' | ' || pg_get_constraintdef(c.oid) AS line
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> $1`),
    sequences: await lines(`SELECT sequence_name AS line FROM information_schema.sequences WHERE sequence_schema = 'public' AND sequence_name <> $1 || '_id_seq'`),
    // Views, functions, types other than the tables' row types, triggers: only the stories' search-document trigger and its function; none may be left.
    other: await lines(`
      SELECT 'function ' || p.proname AS line FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
      UNION ALL
      SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
      UNION ALL
      SELECT 'trigger ' || tgname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT tg.tgisinternal`, []),
  };
}

const applied = async () => (await q<{ name: string }>(`SELECT name FROM ${BOOKKEEPING} ORDER BY id`)).map((r) => r.name);

/** A row or two in the key tables of each area, linked by their foreign keys. */
async function insertRows(): Promise<void> {
  const scriptId = '00000000-0000-4000-8000-000000000001';
  await q(`INSERT INTO scripts (id, title, format, source_name) VALUES ($1, 'Harbour', 'fountain', 'harbour.fountain')`, [scriptId]);
  const [scene] = await q<{ id: string }>(`INSERT INTO scenes (script_id, position, heading, text, content_hash) VALUES ($1, 1, 'INT. OFFICE - NIGHT', 'text', 'h') RETURNING id`, [scriptId]);
  const [character] = await q<{ id: string }>(`INSERT INTO characters (script_id, name) VALUES ($1, 'ADA') RETURNING id`, [scriptId]);
  await q(`INSERT INTO scene_characters (scene_id, character_id) VALUES ($1, $2)`, [scene.id, character.id]);
  await q(`INSERT INTO scene_embeddings (scene_id, input_hash, model, dimensions, embedding) VALUES ($1, 'h', 'm', 2, '{0.5,0.25}')`, [scene.id]);
  await q(`INSERT INTO ingestion_runs (workflow_id, run_id, script_id, mode, flags, concurrency, status) VALUES ('wf', 'run-1', $1, 'full', '{}', '{}', 'completed')`, [scriptId]);

  await q(`INSERT INTO llm_calls (purpose, provider, model, prompt_version, outcome, latency_ms, input_tokens, output_tokens, call_key, batch)
           VALUES ('summary', 'anthropic', 'm', 'v1', 'ok', 10, 1, 2, 'wf/run/1/1/0', true)`);
  await q(`INSERT INTO llm_response_cache (key, provider, model, prompt_version, purpose, response) VALUES ('k', 'openai', 'm', 'v1', 'summary', '{"text":"hi"}')`);
  await q(`INSERT INTO llm_batches (key, provider, model, purpose, prompt_version, use_cache, status, item_count) VALUES ('b1', 'openai', 'm', 'summary', 'v1', true, 'ended', 1)`);
  await q(`INSERT INTO llm_batch_items (batch_key, custom_id, request, outcome) VALUES ('b1', 'c1', '{}', 'ok')`);
  await q(`INSERT INTO run_db_stats (workflow_id, run_id, queries, commits) VALUES ('wf', 'run-1', 3, 1)`);
  await q(`INSERT INTO run_reports (first_run_id, workflow_id, kind, script_id, status, report) VALUES ('run-1', 'wf', 'ingest', $1, 'completed', '{}')`, [scriptId]);

  const [article] = await q<{ id: string }>(`INSERT INTO articles (article_key, title, body, published_at, content_hash) VALUES ('a1', 'T', 'B', now(), 'h') RETURNING id`);
  const storyId = '00000000-0000-4000-8000-000000000002';
  await q(`INSERT INTO stories (id, story_hash, model, prompt_version, headline, summary, key_points, cited_article_ids, window_start, window_end, article_count, status)
           VALUES ($1, 'sh', 'm', 'v1', 'H', 'S', '[]', '[]', now(), now(), 1, 'current')`, [storyId]);
  await q(`INSERT INTO story_articles (story_id, article_id) VALUES ($1, $2)`, [storyId, article.id]);

  const [persona] = await q<{ id: string }>(`INSERT INTO personas (name, config) VALUES ('Ada', '{"context":"c"}') RETURNING id`);
  const playId = '00000000-0000-4000-8000-000000000003';
  await q(`INSERT INTO screenplay_stories (id, title, plot) VALUES ($1, 'T', 'P')`, [playId]);
  const [version] = await q<{ id: string }>(`INSERT INTO screenplay_versions (story_id, version, save_key, fountain, provider, model, truncated, continuations, stats)
           VALUES ($1, 1, 'sk', 'INT. X - DAY', 'anthropic', 'm', false, 0, '{}') RETURNING id`, [playId]);
  await q(`INSERT INTO story_cast (version_id, character, persona_id) VALUES ($1, 'ADA', $2)`, [version.id, persona.id]);

  const sessionId = '00000000-0000-4000-8000-000000000004';
  await q(`INSERT INTO story_sessions (id, title, status) VALUES ($1, 'S', 'open')`, [sessionId]);
  await q(`INSERT INTO session_turns (session_id, turn_number, input, status) VALUES ($1, 1, 'hello', 'done')`, [sessionId]);
  await q(`INSERT INTO session_memories (session_id, turn_number, text) VALUES ($1, 1, 'remember')`, [sessionId]);
  await q(`INSERT INTO session_summaries (session_id, through_turn, from_turn, summary, model) VALUES ($1, 1, 1, 's', 'm')`, [sessionId]);
  await q(`INSERT INTO performance_metrics (op_key, operation, duration_ms, ok) VALUES ('op-1', 'turn', 1.5, true)`);
}

it('migrates up, reverts one by one to nothing, and migrates up again to the same schema', async () => {
  // A fresh database: nothing of storyloom's yet.
  expect((await schema()).tables).toEqual([]);

  const first = await db!.runMigrations({ transaction: 'each' });
  expect(first.map((m) => m.name)).toEqual(byTimestamp);
  expect(await applied()).toEqual(byTimestamp);
  const up1 = await schema();
  // Sanity: the snapshot sees the tables, columns and indexes of every migration.
  for (const table of ['llm_calls', 'scripts', 'ingestion_runs', 'run_db_stats', 'run_reports', 'articles', 'llm_batches', 'personas', 'story_sessions', 'session_summaries']) {
    expect(up1.tables).toContain(`${table} BASE TABLE`);
  }
  expect(up1.columns.some((c) => c.startsWith('llm_calls | ') && c.includes(' | call_key | '))).toBe(true);
  expect(up1.columns.some((c) => c.startsWith('llm_calls | ') && c.includes(' | batch | '))).toBe(true);
  expect(up1.indexes.some((i) => i.includes(' | llm_calls_call_key_idx | CREATE UNIQUE INDEX'))).toBe(true);
  expect(up1.indexes.some((i) => i.includes(' | scripts_title_idx | '))).toBe(true);
  expect(up1.constraints.some((c) => c.startsWith('story_cast | story_cast_persona_id_fkey | FOREIGN KEY (persona_id) REFERENCES personas(id) ON DELETE SET NULL'))).toBe(true);
  expect(up1.sequences).toContain('llm_calls_id_seq');
  expect(up1.other.sort()).toEqual(['function stories_search_doc', 'trigger stories_search_doc']);

  await insertRows();
  expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM llm_calls'))[0].n).toBe(1);

  // Down, newest first, one at a time, with the rows still in place; downs[k]: the schema with k applied.
  const undone: string[] = [];
  const downs: Schema[] = [];
  for (let left = byTimestamp.length; left > 0; left--) {
    const before = await applied();
    await db!.undoLastMigration({ transaction: 'each' });
    const after = await applied();
    expect(after).toEqual(before.slice(0, -1));
    undone.push(before[before.length - 1]);
    downs[left - 1] = await schema();
  }
  expect(undone).toEqual([...byTimestamp].reverse());
  expect(await applied()).toEqual([]);

  const down = await schema();
  expect(down).toEqual({ tables: [], columns: [], indexes: [], constraints: [], sequences: [], other: [] });
  // Only the bookkeeping table is left in the public schema.
  const left = await q<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
  expect(left.map((r) => r.table_name)).toEqual([BOOKKEEPING]);

  // Up again, one migration at a time (a data source knowing only the first k): each down left
  // exactly the schema its migration started from.
  for (let k = 1; k <= ordered.length; k++) {
    const prefix = new DataSource({ type: 'postgres', url: databaseUrl, migrations: ordered.slice(0, k), logging: false, extra: { max: 1 } });
    await prefix.initialize();
    try {
      const ran = await prefix.runMigrations({ transaction: 'each' });
      expect(ran.map((m) => m.name)).toEqual([byTimestamp[k - 1]]);
    } finally {
      await prefix.destroy();
    }
    expect({ k, schema: await schema() }).toEqual({ k, schema: downs[k] ?? up1 });
  }
  expect(await applied()).toEqual(byTimestamp);
  expect(await schema()).toEqual(up1);
  // Nothing left to run for the app's own data source.
  expect(await db!.runMigrations({ transaction: 'each' })).toEqual([]);
  // And the tables are empty: the rows went with the first schema.
  expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM llm_calls'))[0].n).toBe(0);
});
