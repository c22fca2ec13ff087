/**
 * The news commands in-process against the dev server, Postgres and the simulator: importing
 * each format (idempotent), refusing each malformed file with nothing written, generating
 * stories with --wait, list / show / search, and a Temporal Schedule created, triggered and
 * deleted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { generateStories } from '../../src/workflows';
import { DAY_MS, resolveScope, storiesWorkflowId } from '../../src/shared/stories';
import { scheduleIdFor } from '../../src/cli/stories.command';
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { useTestStack } from '../helpers/harness';
import { cliEnvironment, runCli } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('stories-cli');
const fixture = (name: string) => path.resolve(__dirname, '../fixtures/news', name);
let restore: () => void;
beforeAll(() => {
  restore = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restore());

const count = async (where: string, params: unknown[]) =>
  Number((await stack.app.services.db.query(`SELECT count(*)::int AS n FROM articles WHERE ${where}`, params))[0].n);

it.each([
  ['bad-quoting.csv', /bad-quoting\.csv:\d+: invalid CSV/, `url LIKE 'https://a.example/%'`],
  ['no-title-column.csv', /no-title-column\.csv:1: no title column/, `url LIKE 'https://a.example/%'`],
  ['empty-title.csv', /empty-title\.csv:3: the article has no title/, `url LIKE 'https://a.example/%'`],
  ['bad-json.jsonl', /bad-json\.jsonl:2: invalid JSON/, `title IN ('Fine', 'After')`],
  ['not-a-feed.xml', /not-a-feed\.xml: not a feed/, `title = 'Not news'`],
  ['bad-dates.csv', /bad-dates\.csv:20: 2 of 20 articles \(10\.0%\)/, `url LIKE 'https://d.example/%'`],
])('refuses %s whole: file, line and reason, exit 2, nothing written', async (file, message, where) => {
  const r = await runCli('articles', 'import', fixture(file));
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err).toContain('nothing was imported');
  expect(await count(where, [])).toBe(0);
});

it('imports each format; a re-import changes nothing, a changed body updates the same row', async () => {
  const csv = await runCli('articles', 'import', fixture('articles.csv'));
  expect(csv).toMatchObject({ code: 0 });
  expect(csv.out).toContain('Imported 3 article(s) from articles.csv (csv): 3 new, 0 updated, 0 unchanged');
  expect((await runCli('articles', 'import', fixture('articles.csv'))).out).toContain('0 new, 0 updated, 3 unchanged');
  // The RSS feed has the first CSV article's URL with another body: the same row, updated.
  const rss = await runCli('articles', 'import', fixture('feed-rss.xml'));
  expect(rss.out).toContain('(rss): 1 new, 1 updated, 0 unchanged');
  expect(await count('url = $1', ['https://harbour.example/ferry-strike'])).toBe(1);
  expect((await runCli('articles', 'import', fixture('feed-atom.xml'))).out).toContain('(atom): 1 new, 0 updated, 1 unchanged'); // the same words as the CSV's flood warning
  expect((await runCli('articles', 'import', fixture('articles.jsonl'))).out).toContain('(jsonl): 3 new');
  expect((await runCli('articles', 'import', fixture('mapped.csv'), '--map', 'published=published_on')).out).toContain('2 new');
  const few = await runCli('articles', 'import', fixture('few-bad-dates.csv'));
  expect(few.out).toContain('Skipped 1 without a parseable date: line 41 (unparseable date "someday")');
});

it('generates stories with --wait, then lists, shows and searches them', async () => {
  await runCli('articles', 'import', fixture('articles.csv'));
  const gen = await runCli('stories', 'generate', '--from', '2026-03-02', '--to', '2026-03-03', '--wait');
  expect(gen.err).not.toMatch(/failed/);
  expect(gen.code).toBe(0);
  expect(gen.out).toMatch(/Stories completed in [\d.]+ s/);
  expect(gen.out).toMatch(/clusters \d+: \d+ synthesised, 0 reused, 0 failed/);
  expect(gen.out).toMatch(/stories: \d+ written from this run's syntheses, \d+ kept, \d+ superseded/);
  // Other suites write stories to the same database meanwhile (hundreds, on later days): this
  // run's is the one of its day, found page by page (--offset).
  let id: string | undefined;
  for (let offset = 0; id === undefined; offset += 500) {
    const list = await runCli('stories', 'list', '--limit', '500', '--offset', String(offset));
    expect(list.code).toBe(0);
    expect(list.out).not.toContain('No stories past');
    id = list.out.split('\n').find((l) => l.includes(' 2026-03-02 ') && l.includes('Labour'))?.slice(0, 8);
  }
  expect(id).toMatch(/^[0-9a-f]{8}$/);
  const show = await runCli('stories', 'show', id!);
  expect(show.out).toContain('Key points:');
  expect(show.out).toContain('Ferry crews strike over pensions');
  expect(show.out).toMatch(/time window: 2026-03-02T06:10:00\.000Z/);
  const headline = show.out.split('\n')[0];
  const search = await runCli('stories', 'search', headline.split(' ').slice(0, 2).join(' '));
  expect(search.out).toContain(id);
  const again = await runCli('stories', 'generate', '--from', '2026-03-02', '--to', '2026-03-03', '--wait');
  expect(again.out).toMatch(/0 synthesised, \d+ reused/);
  expect((await runCli('stories', 'show', 'ffffffff')).code).toBe(2);
});

it('creates a schedule (overlap skip, catch-up window), lists, triggers, pauses and deletes it', async () => {
  const topic = `sched-${Date.now()}`;
  const created = await runCli('stories', 'schedule', '--every', '1h', '--since', '24h', '--topic', topic, '--catchup-window', '10m');
  expect(created.code).toBe(0);
  const id = `stories-every-1h-since-24h-${topic}`;
  expect(created.out).toContain(`Created schedule ${id}`);
  const handle = stack.env.client.schedule.getHandle(id);
  const described = await handle.describe();
  expect(described.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 600_000 });
  expect((await runCli('stories', 'schedule', '--every', '1h', '--since', '24h', '--topic', topic)).code).toBe(2);
  expect((await runCli('stories', 'schedule', 'list')).out).toContain(`${id}  active`);
  const triggered = await runCli('stories', 'schedule', 'trigger', id);
  expect(triggered.code).toBe(0);
  // A link that works: the schedule's page in the Web UI, which lists the run it started.
  expect(triggered.out).toBe(`Triggered schedule ${id} (its runs: ${stack.app.config.temporal.uiUrl}/namespaces/default/schedules/${id})`);
  const action = await waitFor(async () => (await handle.describe()).info.recentActions[0]);
  const run = stack.env.client.workflow.getHandle(action.action.workflow.workflowId);
  expect(action.action.workflow.workflowId.startsWith(id)).toBe(true);
  expect(await run.result()).toMatchObject({ status: 'completed', articles: 0 });
  expect((await runCli('stories', 'schedule', 'pause', id)).code).toBe(0);
  expect((await handle.describe()).state.paused).toBe(true);
  expect((await runCli('stories', 'schedule', 'delete', id)).code).toBe(0);
  expect((await runCli('stories', 'schedule', 'list')).out).not.toContain(id);
  expect((await runCli('stories', 'schedule', 'delete', id)).code).toBe(2);
});

it('a schedule every few seconds gets the shortest catch-up window Temporal keeps, 10s, and says so', async () => {
  const topic = `fast-${Date.now()}`;
  const created = await runCli('stories', 'schedule', '--every', '2s', '--since', '24h', '--topic', topic);
  expect(created.code).toBe(0);
  const id = `stories-every-2s-since-24h-${topic}`;
  expect(created.out).toContain('catch-up window 10s');
  const handle = stack.env.client.schedule.getHandle(id);
  try {
    expect((await handle.describe()).policies.catchupWindow).toBe(10_000);
  } finally {
    await handle.delete();
  }
});

const scratch = mkdtempSync(path.join(tmpdir(), 'stories-cli-'));
const scratchFile = (name: string, content: string) => {
  const file = path.join(scratch, name);
  writeFileSync(file, content);
  return file;
};

it('says how many articles of a file repeated an earlier one: the counts add up to the articles read', async () => {
  const file = scratchFile('repeated.csv', [
    'url,title,body,published',
    'https://repeat.example/a,First copy,Body one,2027-05-01',
    'https://repeat.example/a,Second copy,Body two,2027-05-01',
    'https://repeat.example/b,Other,Body,2027-05-01',
  ].join('\n'));
  const r = await runCli('articles', 'import', file);
  expect(r.code).toBe(0);
  expect(r.out).toContain(
    'Imported 3 article(s) from repeated.csv (csv): 2 new, 0 updated, 0 unchanged; 1 repeated an earlier one of the file (same URL, source id or content): the last copy kept',
  );
  expect((await stack.app.services.db.query(`SELECT title FROM articles WHERE url = 'https://repeat.example/a'`)).map((a: { title: string }) => a.title)).toEqual(['Second copy']);
});

it('stories list pages with --offset: past the end it says so; a negative offset is a usage error', async () => {
  const past = await runCli('stories', 'list', '--offset', '2147483647');
  expect(past).toMatchObject({ code: 0, out: 'No stories past the first 2147483647.' });
  const badOffset = await runCli('stories', 'list', '--offset=-1');
  expect(badOffset.code).toBe(2);
  expect(badOffset.err).toContain('--offset must be an integer from 0 to 2147483647; got "-1"');
});

it('steering a story run: an unknown id is exit 2; a run that has ended is "not running", exit 1 (a cancel is not "requested")', async () => {
  const unknown = await runCli('stories', 'pause', 'stories-nope');
  expect(unknown.code).toBe(2);
  expect(unknown.err).toContain('No story run "stories-nope"');
  expect((await runCli('stories', 'status', 'stories-nope')).code).toBe(2);
  const done = await runCli('stories', 'generate', '--from', '2027-06-01', '--to', '2027-06-02', '--wait');
  expect(done.code).toBe(0);
  const id = 'stories-2027-06-01T00-2027-06-02T00-all';
  for (const verb of ['pause', 'resume', 'cancel']) {
    const r = await runCli('stories', verb, id);
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toContain(`Story run ${id} is not running (completed)`);
  }
  const concurrency = await runCli('stories', 'concurrency', id, '8');
  expect(concurrency.code).toBe(1);
  expect(concurrency.err).toContain('is not running (completed): nothing to change');
});

it('steering a story run no worker takes: refused after the steering timeout (exit 1, says why), not a wait without end', async () => {
  // A run on a queue no worker polls: its update can never be taken.
  const workflowId = `stories-unpolled-${Date.now()}`;
  const handle = await stack.env.client.workflow.start(generateStories, {
    taskQueue: `${stack.app.taskQueue}-nobody`,
    workflowId,
    args: [{ scope: { fromMs: Date.parse('2027-07-01'), toMs: Date.parse('2027-07-02') } }],
  });
  try {
    // Its status: what the run's description knows, as `storyloom status` shows an ingestion's.
    const status = await runCli('stories', 'status', workflowId);
    expect(status.code).toBe(0);
    expect(status.err).toContain('no worker answered the progress query within 5 s: is a worker running (`storyloom worker`)?');
    expect(status.out).toMatch(/^status RUNNING, started \d{4}-\d\d-\d\dT[\d:.]+Z, \d+ history events$/m);
    const started = Date.now();
    const r = await runCli('stories', 'pause', workflowId);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(r.code).toBe(1);
    // Nothing failed: the request is not taken yet.
    expect(r.err).toBe('storyloom stories: the run did not take the request within 15 s: is a worker running (`storyloom worker`)? It may still be applied when one starts.');
  } finally {
    await handle.terminate('test over').catch((err: unknown) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    });
  }
}, 40_000);

it('a schedule\'s interval under a second is refused before connecting (exit 2), and --every 1H is the schedule of --every 1h', async () => {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const r = await runCli('stories', 'schedule', '--every', '0.5s');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--every must be at least 1s');
    // The server would raise it to 10 s while the command said 5s: refused, not silently changed.
    const catchup = await runCli('stories', 'schedule', '--every', '1h', '--catchup-window', '5s');
    expect(catchup.code).toBe(2);
    expect(catchup.err).toContain(`--catchup-window must be at least 10s (a Temporal Schedule's shortest catch-up window); got "5s"`);
  } finally {
    process.env.TEMPORAL_ADDRESS = saved;
  }
  expect(scheduleIdFor('1H', '24H', 'Labour')).toBe(scheduleIdFor('1h', '24h', 'Labour'));
  expect(scheduleIdFor('1h', '24h')).toBe('stories-every-1h-since-24h');
});

it.each([
  [['--from', ''], '--from is empty'],
  [['--from', '2026-03-02', '--to', ''], '--to is empty'],
  [['--since', ' '], '--since is empty'],
  [['--topic', ''], '--topic is empty'],
  [['--limit-not-an-option'], 'Unknown option'],
])('stories generate %j is refused (exit 2) before connecting, never run over the default scope', async (args, message) => {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const r = await runCli('stories', 'generate', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  } finally {
    process.env.TEMPORAL_ADDRESS = saved;
  }
});

it('an integer option takes decimal digits only: --concurrency 1e1 is refused (exit 2)', async () => {
  const r = await runCli('stories', 'generate', '--concurrency', '1e1');
  expect(r.code).toBe(2);
  expect(r.err).toContain('--concurrency must be an integer from 1 to');
});

it('--similarity sets how alike an article must be to join a cluster: near 1, each article is a story of its own; out of range is refused (exit 2)', async () => {
  const day = Date.UTC(2027, 10, 9);
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 6, clusters: 2, dayMs: day, salt: `cli-similarity-${day}` }));
  const tight = await runCli('stories', 'generate', '--from', '2027-11-09', '--to', '2027-11-10', '--similarity', '0.999', '--wait');
  expect(tight.code).toBe(0);
  expect(tight.out).toContain('articles 6, clusters 6:');
  for (const bad of ['0', '1.5', 'abc', '1e-1']) {
    const r = await runCli('stories', 'generate', '--similarity', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--similarity takes a similarity above 0 and at most 1, e.g. 0.6; got "${bad}"`);
  }
});

it('--model synthesises with another provider and model; the stories of one model are not reused for another', async () => {
  const day = Date.UTC(2027, 10, 12);
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 4, clusters: 2, dayMs: day, salt: `cli-model-${day}` }));
  stack.sim.resetStats();
  const other = await runCli('stories', 'generate', '--from', '2027-11-12', '--to', '2027-11-13', '--model', 'openai:gpt-4o-mini', '--wait');
  expect(other.code).toBe(0);
  expect(other.out).toContain('clusters 2: 2 synthesised');
  expect(stack.sim.stats().byRoute['openai.chat'].requests).toBe(2);
  const models = await stack.app.services.db.query(
    `SELECT DISTINCT model FROM stories WHERE window_start >= $1 AND window_start < $2 AND status = 'current'`,
    [new Date(day), new Date(day + 24 * 3600_000)],
  );
  expect(models).toEqual([{ model: 'gpt-4o-mini' }]);
  // The configured model's run makes them again (a story is reused only by the model that made it).
  const configured = await runCli('stories', 'generate', '--from', '2027-11-12', '--to', '2027-11-13', '--wait');
  expect(configured.out).toContain('clusters 2: 2 synthesised, 0 reused');
  const bad = await runCli('stories', 'generate', '--model', 'mistral:big');
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('--model must look like <provider>:<model>');
});

it('stories show "" is a usage error, not the list of every story', async () => {
  const r = await runCli('stories', 'show', '');
  expect(r.code).toBe(2);
  expect(r.err).toContain('usage: storyloom stories show <id>');
});

it('Ctrl-C during generate --wait ends the wait with exit 130 and says the run goes on, and how to follow or stop it', async () => {
  const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  const realOnce = process.once.bind(process);
  // Ctrl-C as soon as the command listens for it (while it waits); other events pass through.
  const once = jest.spyOn(process, 'once').mockImplementation(((event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (event === 'SIGINT') setImmediate(listener);
    else realOnce(event, listener);
    return process;
  }) as never);
  try {
    // process.exit is a stub here: the command goes on to the run's end.
    const r = await runCli('stories', 'generate', '--from', '2027-08-01', '--to', '2027-08-02', '--wait');
    expect(exit).toHaveBeenCalledWith(130);
    const id = 'stories-2027-08-01T00-2027-08-02T00-all';
    expect(r.err).toContain(`Stopped waiting (Ctrl-C); the run goes on. Follow it: storyloom stories status ${id}; stop it: storyloom stories cancel ${id}`);
  } finally {
    once.mockRestore();
    exit.mockRestore();
  }
});

it('generate --wait of a run cancelled meanwhile prints what it did up to the cancel and its report; status shows the same', async () => {
  const day = Date.UTC(2027, 9, 4);
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 8, clusters: 4, dayMs: day, salt: `cli-cancel-${day}` }));
  const id = 'stories-2027-10-04T00-2027-10-05T00-all';
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 1500 } } } });
  try {
    stack.sim.resetStats();
    const waiting = runCli('stories', 'generate', '--from', '2027-10-04', '--to', '2027-10-05', '--concurrency', '2', '--wait');
    await waitFor(() => (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) >= 2, 30_000, 'two syntheses answered');
    await stack.env.client.workflow.getHandle(id).cancel();
    const r = await waiting;
    expect(r.code).toBe(1);
    expect(r.err).toContain('Stories cancelled');
    expect(r.out).toMatch(/Stories cancelled in [\d.]+ s/);
    expect(r.out).toMatch(/clusters 4: [2-4] synthesised/);
    expect(r.out).toMatch(/Report: .*LLM calls/);
    const status = await runCli('stories', 'status', id);
    expect(status.out).toContain(`${id}: cancelled`);
    expect(status.out).toMatch(/Stories cancelled in [\d.]+ s/);
    expect(status.out).toMatch(/Report: .*LLM calls/);
  } finally {
    stack.sim.configure({ latency: null });
  }
});

it('stories status of a run cancelled after it continued as new shows its figures and report (kept under its first run)', async () => {
  const day = Date.parse('2027-10-07');
  const news = syntheticNews({ articles: 12, clusters: 4, dayMs: day, salt: `cli-continued-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  const scope = { fromMs: day, toMs: day + DAY_MS };
  const id = storiesWorkflowId(resolveScope(scope, Date.now()));
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 300 } } } });
  try {
    stack.sim.resetStats();
    const handle = await stack.env.client.workflow.start(generateStories, { taskQueue: stack.app.taskQueue, workflowId: id, args: [{ scope, concurrency: 2, synthesesPerRun: 4 }] });
    // Past the first run's 4: the second run (or later) is cancelled.
    await waitFor(() => (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) >= 6, 30_000, 'six syntheses answered');
    await handle.cancel();
    await handle.result().catch(() => undefined);
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    const status = await runCli('stories', 'status', id);
    expect(status.code).toBe(0);
    expect(status.out).toContain(`${id}: cancelled`);
    expect(status.out).toMatch(/Stories cancelled in [\d.]+ s/);
    expect(status.out).toMatch(/Report: .*LLM calls/);
  } finally {
    stack.sim.configure({ latency: null });
  }
});
