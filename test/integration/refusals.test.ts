/**
 * Refusals a user walkthrough found missing, checked in-process (the CLI's `main`, the HTTP API
 * on a real port) against the test database with no Temporal server: each is refused before a
 * run would start, so none needs one (the CLI's address has no server; the API's client is a
 * stub that records starts). Titles two scripts would share, titles several scripts already
 * share, an ambiguous story id prefix, unknown personas and bad plots: exit 2 or a 4xx, the
 * message naming what to do, and nothing written.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source';
import { TitleTakenError } from '../../src/db/repositories/script.repository';
import { startTestApi, type TestApi } from '../helpers/api';
import { runCli } from '../helpers/cli';
import { testConfig, testDatabaseUrl } from '../helpers/harness';
import { importCrew } from '../helpers/personas';
import { FIXTURES, importText } from '../helpers/scripts';

const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-refusals-'));
const saved = { ...process.env };
let db: DataSource;
let api: TestApi;
/** Runs the API's client was asked to start (none should be). */
const starts: { workflowId?: string }[] = [];

/** A client with no server behind it: no run is found, and a start is recorded and answered. */
const stubClient = {
  workflow: {
    getHandle: (workflowId: string) => ({ describe: () => Promise.reject(new WorkflowNotFoundError('not found', workflowId, undefined)) }),
    start: (_workflow: unknown, options: { workflowId: string }) => {
      starts.push(options);
      return Promise.resolve({ workflowId: options.workflowId, firstExecutionRunId: 'run-1' });
    },
  },
} as unknown as Client;

beforeAll(async () => {
  // The CLI: the test database, and a Temporal address where nothing listens.
  Object.assign(process.env, { DATABASE_URL: testDatabaseUrl(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
  db = createDataSource(testDatabaseUrl(), { poolSize: 2 });
  await db.initialize();
  await importCrew(db);
  api = await startTestApi({ config: testConfig(undefined), db, client: stubClient });
});
afterAll(async () => {
  process.env = saved;
  await api?.close();
  await db?.destroy();
});
beforeEach(() => {
  starts.length = 0;
});

const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
const fountain = (heading: string) => `INT. ${heading} - NIGHT\n\nRain on the deck.\n\nMARA\nNot tonight.\n`;
/** A fresh title (the database is shared with the other test files of the run). */
const fresh = (what: string) => `${what} ${randomUUID().slice(0, 8)}`;
const scriptIdOf = (out: string) => /script id: (\S+)/.exec(out)![1];
const scriptsTitled = async (title: string) =>
  (await db.query('SELECT id, title, source_name AS "sourceName", updated_at AS "updatedAt" FROM scripts WHERE lower(title) = lower($1) ORDER BY created_at', [title])) as {
    id: string;
    title: string;
    sourceName: string;
    updatedAt: Date;
  }[];

describe('a title two scripts would share', () => {
  it('import --script-id with another script\'s title is refused (exit 2, naming that script), and nothing changes', async () => {
    const title = fresh('The Night Ferry');
    const first = await runCli('import', file('ferry.fountain', fountain('FERRY')), '--title', title);
    expect(first.code).toBe(0);
    const ferryId = scriptIdOf(first.out);
    const twin = await runCli('import', file('twin.fountain', fountain('TWIN')), '--title', fresh('Twin'));
    const twinId = scriptIdOf(twin.out);
    const before = await db.query('SELECT * FROM scripts WHERE id = ANY($1) ORDER BY id', [[ferryId, twinId]]);

    // Case ignored, as every title lookup does.
    const renamed = await runCli('import', file('twin.fountain', fountain('TWIN')), '--script-id', twinId, '--title', title.toUpperCase());
    expect(renamed).toMatchObject({ code: 2, out: '' });
    expect(renamed.err).toContain(`storyloom import: Another script is titled "${title.toUpperCase()}": ${ferryId} ("${title}").`);
    expect(renamed.err).toContain('nothing was written');
    expect(await db.query('SELECT * FROM scripts WHERE id = ANY($1) ORDER BY id', [[ferryId, twinId]])).toEqual(before);
    expect(await scriptsTitled(title)).toHaveLength(1);

    // Its own title (in another case) and a title no other script has are fine.
    expect((await runCli('import', file('ferry.fountain', fountain('FERRY')), '--script-id', ferryId, '--title', title.toLowerCase())).code).toBe(0);
    const other = fresh('Another Name');
    expect((await runCli('import', file('twin.fountain', fountain('TWIN')), '--script-id', twinId, '--title', other)).code).toBe(0);
    expect((await scriptsTitled(other)).map((s) => s.id)).toEqual([twinId]);
  });

  it('POST /api/scripts?scriptId=…&title=… with another script\'s title answers 409, naming that script, and changes nothing', async () => {
    const title = fresh('The Night Ferry');
    const ferry = await runCli('import', file('ferry.fountain', fountain('FERRY')), '--title', title);
    const ferryId = scriptIdOf(ferry.out);
    const twinId = scriptIdOf((await runCli('import', file('twin.fountain', fountain('TWIN')), '--title', fresh('Twin'))).out);
    const res = await api.call(`/api/scripts?scriptId=${twinId}&title=${encodeURIComponent(title)}&fileName=twin.fountain`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: fountain('TWIN'),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'conflict',
      message: expect.stringContaining(`Another script is titled "${title}": ${ferryId} ("${title}")`),
    });
    expect((await scriptsTitled(title)).map((s) => s.id)).toEqual([ferryId]);
  });
});

describe('a title two scripts would share, at once', () => {
  it('two renames onto one title and an import of it, all at once, leave one script with the title (the title\'s lock orders them)', async () => {
    const title = fresh('Raced Title');
    const [a, b] = [await importText(db, fountain('A'), { title: fresh('A') }), await importText(db, fountain('B'), { title: fresh('B') })];
    const outcomes = await Promise.allSettled([
      importText(db, fountain('A'), { title, scriptId: a.scriptId }),
      importText(db, fountain('B'), { title, scriptId: b.scriptId }),
      importText(db, fountain('C'), { title }),
    ]);
    expect(await scriptsTitled(title)).toHaveLength(1);
    // Whichever came first took the title; a later rename was refused, a later import updated that script.
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as Error);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const err of refused) expect(err).toBeInstanceOf(TitleTakenError);
  });
});

describe('a title several scripts already share (made before renames were checked)', () => {
  const title = fresh('Shared Title');
  let ids: string[];
  beforeAll(async () => {
    ids = [];
    for (const [i, name] of ['one', 'two'].entries()) {
      ids.push(scriptIdOf((await runCli('import', file(`${name}.fountain`, fountain(name.toUpperCase())), '--title', `${title} ${i}`)).out));
    }
    // As a rename without the check left them: the same title, in two cases.
    await db.query('UPDATE scripts SET title = $2 WHERE id = $1', [ids[0], title]);
    await db.query('UPDATE scripts SET title = $2 WHERE id = $1', [ids[1], title.toLowerCase()]);
  });

  const listed = () => `2 scripts are titled "${title}": ${ids[0]} ("${title}"), ${ids[1]} ("${title.toLowerCase()}")`;

  it.each([
    ['show', () => ['show', title]],
    ['status', () => ['status', title]],
    ['search', () => ['search', title, 'rain']],
    ['ingest', () => ['ingest', title]],
    ['report', () => ['report', title]],
    ['concurrency', () => ['concurrency', title, '--summaries', '3']],
  ])('%s by the title is bad input (exit 2) listing every id and title', async (command, argv) => {
    const r = await runCli(...argv());
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toBe(`storyloom ${command}: ${listed()}; give the script id instead of the title.`);
  });

  it('import by the title lists them the same way; by id each still works', async () => {
    const r = await runCli('import', file('one.fountain', fountain('ONE')), '--title', title);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`storyloom import: ${listed()}; pass the id of the one to update (--script-id).`);
    // Keeping the title it has is no rename: the scripts that shared it stay as they were.
    expect((await runCli('import', file('one.fountain', fountain('ONE')), '--script-id', ids[0], '--title', title)).code).toBe(0);
    const show = await runCli('show', ids[1]);
    expect(show.code).toBe(0);
    expect(show.out).toContain(`script id ${ids[1]}`);
  });
});

describe('stories show <id prefix>', () => {
  it('names the stories a prefix of several ids matches (exit 2), and shows the one a longer prefix picks', async () => {
    const prefix = randomBytes(4).toString('hex');
    const tag = randomUUID();
    const rows = [1, 2, 3].map((n) => ({ id: `${prefix}-000${n}-4000-8000-000000000000`, headline: `Harbour story ${n}` }));
    for (const [i, r] of rows.entries()) {
      await db.query(
        `INSERT INTO stories (id, story_hash, model, prompt_version, headline, summary, key_points, cited_article_ids, window_start, window_end, article_count, status)
         VALUES ($1, $2, 'm', 'v', $3, 's', '[]', '[]', $4, $4::timestamptz + interval '1 day', 0, 'current')`,
        [r.id, `${tag}-${i}`, r.headline, new Date(Date.UTC(2026, 2, 1 + i))],
      );
    }
    const ambiguous = await runCli('stories', 'show', prefix.slice(0, 6));
    expect(ambiguous).toMatchObject({ code: 2, out: '' });
    expect(ambiguous.err).toContain(`storyloom stories: "${prefix.slice(0, 6)}" is the start of 3 story ids; give more of the one you mean:`);
    // Newest first, each with its whole id.
    expect(ambiguous.err).toContain(`  ${rows[2].id}  2026-03-03 00:00    0 art.  Harbour story 3\n  ${rows[1].id}  2026-03-02 00:00`);
    expect(ambiguous.err).not.toContain('No story with id');

    const one = await runCli('stories', 'show', rows[1].id.slice(0, 13));
    expect(one.code).toBe(0);
    expect(one.out).toContain('Harbour story 2');
  });

  it('refuses a malformed id as malformed (exit 2, saying what an id is), where the API answers 400, not "No story with id"', async () => {
    for (const bad of ['not-a-story', 'zz', 'xyz!', '%20', `${randomUUID()}0`]) {
      const r = await runCli('stories', 'show', bad);
      expect({ bad, ...r }).toEqual({
        bad,
        code: 2,
        out: '',
        err: `storyloom stories: "${bad}" is not a story id: give a story id or the start of one (hex digits and dashes), e.g. 3f2a9c1e (\`storyloom stories list\` shows them).`,
      });
    }
  });
});

describe('generate with an unknown persona', () => {
  const marker = randomUUID();
  const requestsWithMarker = async () => Number((await db.query(`SELECT count(*) AS n FROM screenplay_requests WHERE plot LIKE '%' || $1 || '%'`, [marker]))[0].n);

  it('the CLI refuses it with the closest names (exit 2) before storing the plot or starting a run', async () => {
    const plot = file('plot.txt', `A ferry crosses in fog. ${marker}\n`);
    for (const wait of [[], ['--wait']]) {
      const r = await runCli('generate', '--plot', plot, '--persona', 'Mara Quil', '--persona', 'Juno Park', ...wait);
      expect(r).toMatchObject({ code: 2, out: '' });
      expect(r.err).toBe('storyloom generate: no persona "Mara Quil" (closest: "Mara Quill"). See `storyloom personas list`.');
    }
    expect(await requestsWithMarker()).toBe(0);
  });

  it('POST /api/screenplays/generate answers 404 with the closest names, storing nothing and starting nothing', async () => {
    const res = await api.call('/api/screenplays/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ plot: `A ferry crosses in fog. ${marker}`, personas: ['Juno Park', 'Tobias Wrenn'] }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        code: 'not_found',
        message: 'no persona "Tobias Wrenn" (closest: "Tobias Wren"). See `storyloom personas list`.',
        unknown: [{ name: 'Tobias Wrenn', closest: ['Tobias Wren'] }],
      },
    });
    expect(starts).toEqual([]);
    expect(await requestsWithMarker()).toBe(0);
  });
});

describe('a plot that is not text', () => {
  const marker = randomUUID();
  const post = (plot: string) =>
    api.call('/api/screenplays/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plot, personas: ['Juno Park'] }) });

  it('POST /api/screenplays/generate refuses a NUL character with 400, as a plot file or an upload is refused, storing nothing', async () => {
    const res = await post(`A ferry\u0000crosses. ${marker}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'body.plot is not UTF-8 text (found a NUL byte at offset 7); it looks like a binary file. Give the plot as plain text.',
    );
    expect(starts).toEqual([]);
    expect(Number((await db.query(`SELECT count(*) AS n FROM screenplay_requests WHERE plot LIKE '%' || $1 || '%'`, [marker]))[0].n)).toBe(0);
  });

  it('the CLI reads a Latin-1 plot file as bad input (exit 2), not as text with replacement characters', async () => {
    const plot = file('latin1-plot.txt', Buffer.from(`Caf\xe9 on the ferry. ${marker}\n`, 'latin1'));
    const r = await runCli('generate', '--plot', plot, '--persona', 'Juno Park');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`storyloom generate: ${plot}: The plot is not UTF-8 text (found invalid bytes at offset 3). Save it with UTF-8 encoding and give it again.`);
  });
});

describe('POST /api/scripts as multipart', () => {
  it('takes the screenplay only from the documented field, "file": another name is a 400 naming it, and nothing is written', async () => {
    const title = fresh('Multipart Field');
    const form = new FormData();
    form.append('other', new Blob([fountain('FIELD')], { type: 'text/plain' }), 'field.fountain');
    const res = await api.call(`/api/scripts?title=${encodeURIComponent(title)}`, { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'The multipart request\'s file is in the field "other": send the screenplay as its "file" part; nothing was written.',
    );
    expect(await scriptsTitled(title)).toEqual([]);

    const good = new FormData();
    good.append('file', new Blob([fountain('FIELD')], { type: 'text/plain' }), 'field.fountain');
    expect((await api.call(`/api/scripts?title=${encodeURIComponent(title)}`, { method: 'POST', body: good })).status).toBe(201);
  });
});

it('the sample plot still generates past these checks (it is refused only for want of a Temporal server here)', async () => {
  const r = await runCli('generate', '--plot', path.join(FIXTURES, 'plots/harbour.txt'), '--persona', 'Juno Park');
  expect(r.code).toBe(2);
  expect(r.err).toContain('Cannot reach the Temporal server at 127.0.0.1:1');
});
