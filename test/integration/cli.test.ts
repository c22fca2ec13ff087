/**
 * The `storyloom` command line, run in-process against the test database, a dev server and
 * the simulator: import (and refusing bad input without writing anything), ingest --wait,
 * status, show, search, refusing a second ingestion of a running script, steering a running
 * one, --help everywhere, and (as its own process) quiet output.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { COMMAND_HELP } from '../../src/cli/help';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { progressQuery } from '../../src/workflows';
import { dropDatabase } from '../../src/db/data-source';
import { startApp, startTestTemporal, testConfig, testDatabaseUrl, type RunningApp } from '../helpers/harness';
import { cliEnvironment, runCli } from '../helpers/cli';
import { FIXTURES } from '../helpers/scripts';

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let app: RunningApp;
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-cli-'));
let restoreEnv: () => void;

beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator()]);
  app = await startApp(env, testConfig(sim), 'cli');
  restoreEnv = cliEnvironment(env, app, sim);
});
afterAll(async () => {
  restoreEnv?.();
  await app?.stop();
  await sim?.close();
  await env?.teardown();
});

const cli = runCli;

const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('import', () => {
  it('stores a screenplay and prints its id and counts; a re-import recognises unchanged scenes', async () => {
    const copy = path.join(dir, 'night-ferry-import.fountain');
    copyFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), copy);
    const first = await cli('import', copy, '--title', `Ferry ${Date.now()}`);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/script id: [0-9a-f-]{36}/);
    expect(first.out).toContain('scenes: 6');
    expect(first.out).toContain('characters: 5');
    const scriptId = /script id: (\S+)/.exec(first.out)![1];
    const again = await cli('import', copy, '--script-id', scriptId);
    expect(again.code).toBe(0);
    expect(again.out).toContain('0 new or changed, 6 unchanged, 0 removed');
  });

  it.each([
    ['an empty file', () => file('empty.fountain', ''), /empty/i],
    ['a binary file', () => file('image.fountain', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])), /not UTF-8 text|not text/i],
    ['text without a scene heading', () => file('notes.fountain', 'Just some notes.\n\nNo scenes here.\n'), /No scene heading/],
    ['malformed FDX', () => file('broken.fdx', '<?xml version="1.0"?><FinalDraft><Content><Paragraph Type="Scene Heading"><Text>INT. X</Text></Content>'), /not well-formed XML/],
    ['a file over the size limit', () => { const p = file('huge.fountain', 'INT. A - DAY\n'); truncateSync(p, 6 * 1024 * 1024); return p; }, /limit is 5 MB/],
    ['a missing file', () => path.join(dir, 'nope.fountain'), /file not found: .*nope\.fountain/],
  ])('refuses %s with a clear message, exit 2, and writes nothing', async (_what, make, message) => {
    const input = make();
    // Counted by the file's name: other test files import scripts into the same database meanwhile.
    const named = async () => Number((await app.services.db.query('SELECT count(*) AS n FROM scripts WHERE source_name = $1', [path.basename(input)]))[0].n);
    const before = await named();
    const result = await cli('import', input);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(await named()).toBe(before);
  });

  it('refuses an unknown --script-id', async () => {
    const result = await cli('import', path.join(FIXTURES, 'fountain/night-ferry.fountain'), '--script-id', '00000000-0000-0000-0000-000000000000');
    expect(result.code).toBe(2);
    expect(result.err).toContain('No script with id');
  });
});

describe('ingest and friends', () => {
  let scriptId: string;

  it('ingest <file> --wait imports, runs the workflow with a progress bar, prints the link and the result', async () => {
    // A title of its own: other test files import the same fixture into the same database, and a
    // title two scripts share is ambiguous.
    const copy = file('night-ferry.fountain', readFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), 'utf8').replace('\tA Short Crossing', `\tCLI ${Date.now()}`));
    // Summaries slow enough (3 rounds of 300 ms) that a progress poll (every 500 ms) lands mid-run.
    sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
    let result;
    try {
      // --no-cache: other test files ingest the same scenes into this database, and the bar needs calls to wait for.
      result = await cli('ingest', copy, '--wait', '--concurrency-summaries', '2', '--no-cache');
    } finally {
      sim.configure({ latency: null });
    }
    expect(result.code).toBe(0);
    scriptId = /script id: (\S+)/.exec(result.out)![1];
    expect(result.out).toContain(`Web UI: ${testConfig(undefined).temporal.uiUrl}/namespaces/default/workflows/ingest-${scriptId}/`);
    expect(result.out).toMatch(/Ingestion completed in [\d.]+ s \(partial/);
    expect(result.out).toContain('summaries   6 made, 0 reused, 0 failed of 6');
    expect(result.err).toMatch(/\[#+\.*\] /);
  });

  it('status, show and search describe the ingested script', async () => {
    const status = await cli('status', scriptId);
    expect(status.code).toBe(0);
    expect(status.out).toContain('last run completed');
    const show = await cli('show', scriptId);
    expect(show.code).toBe(0);
    expect(show.out).toContain('## Outline (claude-sonnet-4-6)');
    expect(show.out).toMatch(/## Character sheets \(\d+\)/);
    expect(show.out).not.toContain('## Scenes');
    const scenes = await cli('show', scriptId, '--scenes');
    expect(scenes.code).toBe(0);
    expect(scenes.out).toContain('## Scenes (6 of 6 summarized)');
    // Each scene: its number and heading, then its summary indented.
    const section = scenes.out.slice(scenes.out.indexOf('## Scenes'), scenes.out.indexOf('## Outline')).split('\n');
    expect(section.filter((l) => /^\d+\. \S/.test(l)).map((l) => Number(l.split('.')[0]))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(section.filter((l) => /^ {3}\S/.test(l))).toHaveLength(6);
    expect(scenes.out).not.toContain('(no summary yet)');
    const search = await cli('search', scriptId, 'memory', '--limit', '3');
    expect(search.code).toBe(0);
    expect(search.out.split('\n').filter((l) => /^\d\.\d{3}  scene \d+/.test(l))).toHaveLength(3);
  });

  it('re-ingesting the unchanged file is partial and calls nothing', async () => {
    sim.resetStats();
    const result = await cli('ingest', path.join(dir, 'night-ferry.fountain'), '--wait');
    expect(result.code).toBe(0);
    expect(result.out).toContain('(partial');
    expect(sim.stats().totalRequests).toBe(0);
  });

  it('refuses a second ingestion while one runs, pointing at the running one; cancel stops it', async () => {
    // Slow every call so the run is still going.
    sim.configure({ latency: { default: { fixedMs: 1500 } } });
    try {
      const started = await cli('ingest', scriptId, '--no-cache', '--full');
      expect(started.code).toBe(0);
      const second = await cli('ingest', scriptId);
      expect(second.code).toBe(3);
      expect(second.err).toContain(`already running: ${testConfig(undefined).temporal.uiUrl}/namespaces/default/workflows/ingest-${scriptId}`);
      const paused = await cli('pause', scriptId);
      expect(paused.err).toBe('');
      expect(paused.out).toContain('Paused');
      const cancelled = await cli('cancel', scriptId);
      expect(cancelled.err).toBe('');
      expect(cancelled.code).toBe(0);
      await expect(app.services.db.query('SELECT 1')).resolves.toBeDefined();
      await env.client.workflow.getHandle(`ingest-${scriptId}`).result().catch(() => undefined);
      const status = await cli('status', scriptId);
      expect(status.out).toContain('last run cancelled');
    } finally {
      sim.configure({ latency: null });
    }
  });

  it('ingest --wait of a run cancelled meanwhile: exit 1 with what the run finished up to the cancel, not only "Workflow canceled"', async () => {
    sim.configure({ latency: { default: { fixedMs: 1500 } } });
    try {
      const waiting = cli('ingest', scriptId, '--no-cache', '--full', '--wait');
      const handle = env.client.workflow.getHandle(`ingest-${scriptId}`);
      // Cancelled once this run is the one running (the previous test's has ended).
      for (let i = 0; i < 100; i++) {
        const desc = await handle.describe().catch(() => undefined);
        if (desc?.status.name === 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await handle.cancel();
      const result = await waiting;
      expect(result.code).toBe(1);
      expect(result.err).toContain('Ingestion cancelled');
      expect(result.out).toMatch(/Ingestion cancelled in [\d.]+ s \(full/);
      expect(result.out).toMatch(/summaries +\d+ made, 0 reused, 0 failed of 6/);
      expect(result.out).toContain(`Full report: storyloom report ${scriptId}`);
    } finally {
      sim.configure({ latency: null });
    }
  });

  it('rejects bad options with a clear message', async () => {
    expect((await cli('ingest', scriptId, '--concurrency-summaries', '0')).err).toContain('--concurrency-summaries must be an integer from 1 to 200');
    expect((await cli('ingest', 'no-such-script-or-file')).err).toContain('No script "no-such-script-or-file"');
    expect((await cli('frobnicate')).code).toBe(2);
  });

  it('reports a path that does not exist as a missing file, not as an unknown script', async () => {
    for (const missing of [path.join(dir, 'missing.fountain'), 'drafts/act-one', 'Missing Draft.fdx']) {
      const result = await cli('ingest', missing);
      expect(result.code).toBe(2);
      expect(result.err).toContain(`file not found: ${missing}`);
      expect(result.err).not.toContain('No script');
    }
  });

  it('concurrency, pause and resume steer a running ingestion and print its new state', async () => {
    expect(await cli('concurrency', scriptId, '--summaries', '3')).toMatchObject({ code: 1, err: expect.stringContaining('is running') });
    sim.configure({ latency: { default: { fixedMs: 1500 } } });
    try {
      expect((await cli('ingest', scriptId, '--no-cache', '--full', '--concurrency-sheets', '2')).code).toBe(0);
      const handle = env.client.workflow.getHandle(`ingest-${scriptId}`);

      // Paused first, so the run is still there for every command that follows.
      const paused = await cli('pause', scriptId);
      expect(paused).toMatchObject({ code: 0, err: '' });
      expect(paused.out).toContain('paused; concurrency: summaries 10, sheets 2');

      // Wider than a worker's cap on the provider (10 by default): applied, with a note saying what it will do.
      const wide = await cli('concurrency', scriptId, '--summaries', '150');
      expect(wide.code).toBe(0);
      expect(wide.out).toContain('paused; concurrency: summaries 150, sheets 2');
      expect(wide.out).toContain('note: --summaries 150 is above the 10 anthropic calls a worker makes at once (STORYLOOM_ANTHROPIC_MAX_CONCURRENT)');
      expect(paused.out).not.toContain('note:');

      const changed = await cli('concurrency', scriptId, '--sheets', '3', '--summaries', '7');
      expect(changed).toMatchObject({ code: 0, err: '' });
      expect(changed.out).toContain('paused; concurrency: summaries 7, sheets 3');
      for (const [args, message] of [
        [['--summaries', '0'], 'summaries must be an integer from 1 to 200; got 0'],
        [['--sheets', 'lots'], 'sheets must be an integer from 1 to 200; got "lots"'],
        [['--sheets', '2.5'], 'sheets must be an integer from 1 to 200; got "2.5"'],
        [['--summaries', '1e1'], 'summaries must be an integer from 1 to 200; got "1e1"'],
      ]) {
        const refused = await cli('concurrency', scriptId, ...args);
        expect(refused.code).toBe(2);
        expect(refused.err).toContain(message);
      }
      expect((await cli('concurrency', scriptId)).code).toBe(2);
      expect((await handle.query(progressQuery)).concurrency).toEqual({ summaries: 7, sheets: 3 });
      const pausedStatus = (await cli('status', scriptId)).out;
      expect(pausedStatus).toContain('paused; concurrency: summaries 7, sheets 3');
      // Its first line says paused too, not running.
      expect(pausedStatus.split('\n')[0]).toMatch(/^".*": paused — /);

      const resumed = await cli('resume', scriptId);
      expect(resumed).toMatchObject({ code: 0, err: '' });
      expect(resumed.out).toContain('Resumed');
      expect(resumed.out).toContain('running; concurrency: summaries 7, sheets 3');
      await cli('cancel', scriptId);
      await handle.result().catch(() => undefined);
    } finally {
      sim.configure({ latency: null });
    }
  });

  it('prints results on stdout and no JSON log lines on stderr unless LOG_LEVEL asks (as its own process)', async () => {
    const quiet = await cliProcess(['search', scriptId, 'memory', '--limit', '2']);
    expect(quiet.code).toBe(0);
    expect(quiet.out.trim().split('\n').filter((l) => !/^(\d\.\d{3}  scene \d+|\s{7}\S)/.test(l))).toEqual([]);
    expect(quiet.err).toBe('');
    const verbose = await cliProcess(['search', scriptId, 'memory', '--limit', '2'], { LOG_LEVEL: 'debug' });
    expect(verbose.code).toBe(0);
    expect(verbose.out).not.toContain('{');
    expect(verbose.err.split('\n').some((l) => l.startsWith('{') && JSON.parse(l).event === 'llm_call')).toBe(true);
  });
});

describe('status with no worker', () => {
  it('says within 5 s that no worker answered the progress query, and shows what the run\'s description knows', async () => {
    const copy = file('no-worker.fountain', readFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), 'utf8').replace('\tA Short Crossing', `\tNo Worker ${Date.now()}`));
    const imported = await cli('import', copy);
    expect(imported.code).toBe(0);
    const scriptId = /script id: (\S+)/.exec(imported.out)![1];
    // The script's ingestion on a queue no worker polls: RUNNING, and its progress query goes unanswered.
    const handle = await env.client.workflow.start('ingestScript', {
      workflowId: `ingest-${scriptId}`,
      taskQueue: `no-worker-${scriptId}`,
      args: [{ scriptId }],
      typedSearchAttributes: storyloomSearchAttributes('ingest', 'No Worker', 'running'),
    });
    try {
      const started = Date.now();
      const status = await cli('status', scriptId);
      const took = Date.now() - started;
      expect(status.code).toBe(0);
      expect(status.err).toContain('no worker answered the progress query within 5 s: is a worker running (`storyloom worker`)?');
      expect(status.out).toContain(': running — ');
      expect(status.out).toMatch(/^status RUNNING, started \d{4}-\d\d-\d\dT[\d:.]+Z, \d+ history events$/m);
      const attributes = /^search attributes: (.*)$/m.exec(status.out)?.[1].split(', ');
      // storyloom's own only (not the server's BuildIds or TemporalChangeVersion).
      expect(attributes?.sort()).toEqual(['StoryloomJob=ingest', 'StoryloomStatus=running', 'StoryloomTitle=No Worker']);
      expect(took).toBeLessThan(10_000);
    } finally {
      await handle.terminate('test over');
    }
  });
});

describe('another job\'s run where a script is expected', () => {
  it('says what steers it instead of "No script" (exit 2)', async () => {
    const screenplay = await cli('pause', 'screenplay-0b5c3a1e-8f7d-4f7a-9a53-4e9b2f1d6c11');
    expect(screenplay.code).toBe(2);
    expect(screenplay.err).toContain('is a screenplay run: it cannot be paused or re-tuned');
    const stories = await cli('status', 'stories-2026-03-02T00-2026-03-03T00-all');
    expect(stories.code).toBe(2);
    expect(stories.err).toContain('`storyloom stories status|pause|resume|concurrency|cancel stories-2026-03-02T00-2026-03-03T00-all` steer it');
    expect((await cli('cancel', 'no-such-script')).err).toContain('No script "no-such-script"');
  });
});

describe('status of a run that closed before it did any work', () => {
  it('says how it ended (no run row to read), then the run before it', async () => {
    const copy = file('closed-early.fountain', readFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), 'utf8').replace('\tA Short Crossing', `\tClosed Early ${Date.now()}`));
    const scriptId = /script id: (\S+)/.exec((await cli('import', copy)).out)![1];
    expect((await cli('ingest', scriptId, '--wait')).code).toBe(0);
    // The next run on a queue no worker polls, terminated there: it never wrote a row.
    const handle = await env.client.workflow.start('ingestScript', { workflowId: `ingest-${scriptId}`, taskQueue: `no-worker-${scriptId}`, args: [{ scriptId }] });
    await handle.terminate('changed my mind');
    const status = await cli('status', scriptId);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/: last run terminated before it did any work \(closed \d{4}-/);
    expect(status.out).toMatch(/^the run before it: completed, started /m);
  });
});

describe('help', () => {
  it('storyloom --help lists every command, exit 0', async () => {
    for (const argv of [['--help'], ['help'], []]) {
      const result = await cli(...argv);
      expect(result.code).toBe(0);
      for (const name of Object.keys(COMMAND_HELP)) expect(result.out).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
  });

  it.each(Object.keys(COMMAND_HELP))('%s --help prints its usage and options, exit 0', async (name) => {
    const result = await cli(name, '--help');
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out.split('\n')[0]).toBe(`usage: storyloom ${name}${COMMAND_HELP[name].usage ? ` ${COMMAND_HELP[name].usage}` : ''}`);
    expect((await cli('help', name)).out).toBe(result.out);
  });

  it('ingest --help shows the options rather than a parse error; show --help looks up no script', async () => {
    const ingest = await cli('ingest', '--help');
    expect(ingest.code).toBe(0);
    expect(ingest.out).toContain('--concurrency-summaries N');
    expect(ingest.out).toContain('--no-cache');
    const show = await cli('show', '-h');
    expect(show.code).toBe(0);
    expect(show.err).not.toContain('No script');
  });

  it('an unknown option names the command\'s --help', async () => {
    const result = await cli('search', 'x', 'y', '--frobnicate');
    expect(result.code).toBe(2);
    expect(result.err).toContain('see `storyloom search --help`');
  });
});

describe('stories: refused before anything starts or changes', () => {
  /** Whether a stories run over this scope was started (its id comes from the scope). */
  const started = async (scope: StoryScopeInput) =>
    env.client.workflow.getHandle(storiesWorkflowId(resolveScope(scope, Date.now()))).describe().then(
      () => true,
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );

  it('stories concurrency needs its number; status, pause, resume, cancel and concurrency take nothing more', async () => {
    const missing = await cli('stories', 'concurrency', 'stories-2026-03-02T00-2026-03-03T00-all');
    expect(missing).toMatchObject({ code: 2, out: '' });
    expect(missing.err).toContain('usage: storyloom stories concurrency <workflow id> <n> (1 to 100); the new concurrency is missing');
    for (const verb of ['status', 'pause', 'resume', 'cancel']) {
      const extra = await cli('stories', verb, 'stories-2026-03-02T00-2026-03-03T00-all', 'now');
      expect(extra).toMatchObject({ code: 2, out: '' });
      expect(extra.err).toContain(`usage: storyloom stories ${verb} <workflow id>; "now" is one argument too many`);
    }
    expect((await cli('stories', 'concurrency', 'stories-2026-03-02T00-2026-03-03T00-all', '8', '9')).err).toContain('"9" is one argument too many');
    expect((await cli('stories', 'concurrency', 'stories-2026-03-02T00-2026-03-03T00-all', 'lots')).err).toContain('the concurrency must be an integer from 1 to 100; got "lots"');
    expect((await cli('stories', 'status', 'stories-2026-03-02T00-2026-03-03T00-all', '--json')).err).toContain("Unknown option '--json'");
  });

  it.each([
    ['--from in the future, no --to', ['--from', '2999-01-01'], { fromMs: Date.UTC(2999, 0, 1) }, /the scope covers no time: it starts at 2999-01-01T00:00:00\.000Z, not before its end \(now, \d{4}-/],
    ['--from a day February does not have', ['--from', '2026-02-31', '--to', '2026-03-05'], { fromMs: Date.UTC(2026, 2, 3), toMs: Date.UTC(2026, 2, 5) }, /--from takes an ISO 8601 date .*; got "2026-02-31": no such date/],
    ['--from a bare number', ['--from', '1', '--to', '2001-01-02'], { fromMs: Date.UTC(2001, 0, 1), toMs: Date.UTC(2001, 0, 2) }, /--from takes an ISO 8601 date .*; got "1"/],
    ['--since too long', ['--since', '99999999999d'], undefined, /--since takes a duration of at most 3650000d \(10,000 years\); got "99999999999d"/],
  ] as const)('stories generate %s: exit 2 naming the value, no run started', async (_what, args, scope, message) => {
    const result = await cli('stories', 'generate', ...args);
    expect(result).toMatchObject({ code: 2, out: '' });
    expect(result.err).toMatch(message);
    expect(result.err).not.toMatch(/Invalid time value|RangeError/);
    if (scope) expect(await started(scope)).toBe(false);
  });
});

describe('a database that does not exist', () => {
  it('is named with how to create it, exit 2, and not created (a mistyped DATABASE_URL is no new empty database); `migrate` creates it', async () => {
    const url = new URL(testDatabaseUrl());
    url.pathname = `/storyloom_missing_${process.pid}_${Date.now().toString(36)}`;
    const name = url.pathname.slice(1);
    const exists = async () => (await app.services.db.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [name]))[0].n === 1;
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url.toString();
    try {
      const show = await cli('show', 'my-script');
      expect(show.code).toBe(2);
      expect(show.err).toContain(`database "${name}" does not exist. Create it with \`storyloom migrate\``);
      expect(await exists()).toBe(false);
      expect((await cli('migrate')).code).toBe(0);
      expect(await exists()).toBe(true);
    } finally {
      process.env.DATABASE_URL = saved;
      await dropDatabase(url.toString());
    }
  });
});

/** The CLI as its own process (sources loaded through SWC), to read exactly what it writes. */
function cliProcess(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const { LOG_LEVEL: _inherited, ...base } = process.env;
  const root = path.resolve(__dirname, '../..');
  const run = "require('./src/starter').main(process.argv.slice(1)).then((code) => process.exit(code))";
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', './test/helpers/ts-register.js', '-e', run, '--', ...argv], { cwd: root, env: { ...base, ...env } }, (err, out, errOut) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut });
    });
  });
}
