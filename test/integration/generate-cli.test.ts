/**
 * `storyloom generate`, `screenplays` and `ingest <story>` in-process against the test
 * database, a dev server and the simulator: the screenplay streams to stdout while it is
 * written, bad input exits 2 with nothing started, and export → ingest round-trips.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkFountain } from '../../src/domain/generation/fountain-check';
import { parseScreenplay } from '../../src/domain/screenplay';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { CREW, importCrew } from '../helpers/personas';
import { FIXTURES } from '../helpers/scripts';

const stack = useTestStack('generate-cli', { simulator: { latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 1 } } } } });
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-generate-'));
const PLOT = path.join(FIXTURES, 'plots/harbour.txt');
let restoreEnv: () => void;

beforeAll(async () => {
  await importCrew(stack.app.services.db);
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restoreEnv?.());

/** runCli, also capturing stdout writes with the time of each. */
async function cli(...argv: string[]) {
  const writes: { text: string; at: number }[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push({ text: String(chunk), at: Date.now() }), true));
  try {
    const result = await runCli(...argv);
    return { ...result, stdout: writes.map((w) => w.text).join(''), writes, endedAt: Date.now() };
  } finally {
    spy.mockRestore();
  }
}

const storyOf = (err: string) => /\(story ([0-9a-f-]{36})\)/.exec(err)![1];

it('generate --wait streams the screenplay to stdout as it is written, then a one-line summary', async () => {
  const r = await cli('generate', '--plot', PLOT, ...CREW.flatMap((p) => ['--persona', p]), '--title', 'Harbour Lights', '--wait', '--no-cache');
  expect(r.code).toBe(0);
  expect(checkFountain(r.stdout)).toMatchObject({ ok: true });
  // Many writes, the first well before the command ended.
  expect(r.writes.length).toBeGreaterThan(5);
  expect(r.writes[0].at).toBeLessThan(r.endedAt - 300);
  expect(r.err).toMatch(/✓ "Harbour Lights" v1 \(story [0-9a-f-]{36}\): [\d,]+ tokens, first token at the CLI \d+\.\d s, \d+\.\d s total, \$\d+\.\d{4}/);
  const story = storyOf(r.err);

  const list = await cli('screenplays', 'list');
  expect(list.out).toContain(`${story}  Harbour Lights  (1 version`);
  const show = await cli('screenplays', 'show', 'Harbour Lights');
  expect(show.code).toBe(0);
  expect(show.out).toContain('version 1 of 1');
  expect(show.out).toContain('MARA QUILL (Mara Quill)');
  const exported = await cli('screenplays', 'export', story, '--version', '1');
  expect(exported.stdout.trimEnd()).toBe(r.stdout.trimEnd());
  expect(r.err).toMatch(/, \d+ tokens\/s\)/);
});

it('a screenplay answered from the cache says so instead of a tokens-per-second figure, and is the version it was (not saved twice)', async () => {
  const title = `Cached Tide ${Date.now()}`;
  const first = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--title', title, '--wait');
  expect(first.code).toBe(0);
  expect(first.err).toMatch(/, \d+ tokens\/s\)/);
  const story = /\(story ([0-9a-f-]{36})\)/.exec(first.err)![1];
  // A second story of the same title is refused: it would make the title ambiguous.
  const twice = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--title', title, '--wait');
  expect(twice.code).toBe(2);
  expect(twice.err).toContain(`A story is already titled "${title}" (${story}): make a new version of it with --story ${story}`);
  // A new version is written from the story's plot and personas unless given others: the same request, so the cache answers it.
  const again = await cli('generate', '--story', story, '--wait');
  expect(again.code).toBe(0);
  expect(again.err).toMatch(/, from the cache\)/);
  expect(again.err).not.toMatch(/tokens\/s/);
  expect(again.err).toContain('v1 (the same text as before, not saved again)');
  const [{ n }] = await stack.app.services.db.query('SELECT count(*)::int AS n FROM screenplay_versions WHERE story_id = $1', [story]);
  expect(n).toBe(1);
  // A reply paid for is saved, even when it repeats a version (the simulator writes the same text).
  const paid = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--story', story, '--no-cache', '--wait');
  expect(paid.code).toBe(0);
  expect(paid.err).toMatch(/" v2 \(story /);
  expect((await stack.app.services.db.query('SELECT count(*)::int AS n FROM screenplay_stories WHERE lower(title) = lower($1)', [title]))[0].n).toBe(1);
});

it('a title whose first run is still generating (no story stored yet) is refused too, naming that run', async () => {
  const title = `In Flight ${Date.now()}`;
  stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 20 } } } });
  try {
    const first = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--title', title, '--no-cache');
    expect(first.code).toBe(0);
    const workflowId = /Started screenplay generation (screenplay-[0-9a-f-]{36})/.exec(first.out)![1];
    // Visibility (the runs' search attributes) answers once the server has indexed the start.
    await waitFor(async () => {
      for await (const run of stack.env.client.workflow.list({ query: `StoryloomTitle = "${title}" AND ExecutionStatus = "Running"` })) return run;
      return undefined;
    }, 10_000, 'the run is listed');
    const second = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--title', title);
    expect(second.code).toBe(2);
    expect(second.err).toContain(`A screenplay titled "${title}" is being generated (${workflowId})`);
    await stack.env.client.workflow.getHandle(workflowId).cancel();
  } finally {
    stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 1 } } } });
  }
});

it('a stream that stalls is timed out, taken again and saved whole; the summary counts what the stalled attempt cost too', async () => {
  // A plot of its own: the stall reaches this run's request, not one another test left in flight.
  const marker = `stalled-${randomUUID()}`;
  const plot = path.join(dir, `${marker}.txt`);
  writeFileSync(plot, `${readFileSync(PLOT, 'utf8')}\n${marker}\n`);
  stack.sim.configure({ faults: [{ kind: 'streamStall', purpose: 'screenplay', contains: marker, times: 1 }] });
  try {
    const r = await cli('generate', '--plot', plot, '--persona', 'Juno Park', '--title', `Stalled ${Date.now()}`, '--no-cache', '--wait');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/\$\d+\.\d{4} paid \(\$\d+\.\d{4} for the saved replies, the rest for attempts cut short\)/);
    const story = /\(story ([0-9a-f-]{36})\)/.exec(r.err)![1];
    const exported = await cli('screenplays', 'export', story);
    expect(r.stdout.trimEnd()).toBe(exported.stdout.trimEnd());
  } finally {
    stack.sim.configure({ faults: [] });
  }
});

it('generate without --wait prints the workflow id and its Web UI link', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Started screenplay generation screenplay-[0-9a-f-]{36}/);
  expect(r.out).toContain('Web UI: http');
});

it('`cancel screenplay-…` cancels a running screenplay run (exit 0); once it has ended, exit 1 saying how; an unknown one is exit 2', async () => {
  stack.sim.configure({ latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 30_000 } } } });
  try {
    const started = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--no-cache');
    const workflowId = /Started screenplay generation (screenplay-[0-9a-f-]{36})/.exec(started.out)![1];
    const handle = stack.env.client.workflow.getHandle(workflowId);
    await waitFor(async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) > 0, 20_000, 'its variant running');
    const cancelled = await cli('cancel', workflowId);
    expect(cancelled).toMatchObject({ code: 0, out: `Cancel requested (the variants in flight are aborted; versions already saved stay): ${workflowId}` });
    await waitFor(async () => (await handle.describe()).status.name === 'CANCELLED', 30_000, 'the run cancelled');
    const again = await cli('cancel', workflowId);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`Workflow ${workflowId} is not running (CANCELLED).`);
  } finally {
    stack.sim.configure({ latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 1 } } } });
  }
  const unknown = await cli('cancel', 'screenplay-00000000-0000-4000-8000-000000000000');
  expect(unknown.code).toBe(2);
  expect(unknown.err).toContain('No screenplay run "screenplay-00000000-0000-4000-8000-000000000000"');
});

it.each([
  [['--persona', 'Juno Park'], '--plot <file> is required (or --story <id> for a new version of a story, from its plot)'],
  [['--plot', PLOT], 'give at least one --persona'],
  [['--plot', path.join(dir, 'missing.txt'), '--persona', 'Juno Park'], 'file not found'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--variants', '11'], '--variants must be an integer from 1 to 10'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--max-tokens', 'lots'], '--max-tokens must be an integer'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--model', 'mistral:big'], '--model must look like <provider>:<model>'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--story', 'no-such-story'], 'No story "no-such-story"'],
  // A blank title made a story no title finds; a long one is what the API refuses (1 to 200 characters).
  [['--plot', PLOT, '--persona', 'Juno Park', '--title', ''], '--title must not be empty'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--title', '   '], '--title must not be empty'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--title', 'T'.repeat(201)], '--title takes at most 200 characters; got 201'],
])('generate %j refuses with exit 2: %s', async (args, message) => {
  // The plot marked, so "nothing stored" is read of this case's plot (other test files store plots meanwhile).
  const marker = `refused-${randomUUID()}`;
  const marked = path.join(dir, `${marker}.txt`);
  writeFileSync(marked, `${readFileSync(PLOT, 'utf8')}\n${marker}\n`);
  const r = await cli('generate', ...args.map((a) => (a === PLOT ? marked : a)));
  expect(r.code).toBe(2);
  expect(r.err).toContain(message);
  expect((await stack.app.services.db.query(`SELECT count(*)::int AS n FROM screenplay_requests WHERE plot LIKE '%' || $1 || '%'`, [marker]))[0].n).toBe(0);
});

it('generate --variants 3 --wait: the versions in number order, and which one stdout holds (only the first variant streams)', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park', '--title', 'Three Ways Home', '--variants', '3', '--wait', '--no-cache');
  expect(r.code).toBe(0);
  const story = storyOf(r.err);
  expect(r.err).toMatch(/✓ "Three Ways Home" v1, v2, v3 \(story /);
  expect(r.err.indexOf('  version 1:')).toBeLessThan(r.err.indexOf('  version 2:'));
  expect(r.err.indexOf('  version 2:')).toBeLessThan(r.err.indexOf('  version 3:'));
  const streamed = /stdout holds version (\d); the others: storyloom screenplays export ([0-9a-f-]{36}) --version N \(N: (\d), (\d)\)/.exec(r.err);
  expect(streamed).not.toBeNull();
  expect(streamed![2]).toBe(story);
  expect([streamed![1], streamed![3], streamed![4]].sort()).toEqual(['1', '2', '3']);
  // What it says is on stdout is: that version's Fountain.
  const exported = await cli('screenplays', 'export', story, '--version', streamed![1]);
  expect(exported.stdout.trimEnd()).toBe(r.stdout.trimEnd());
});

it('generate with an unknown persona exits 2 naming the closest, with or without --wait, storing no plot and starting no run', async () => {
  const marker = randomUUID();
  const plot = path.join(dir, 'unknown-persona-plot.txt');
  writeFileSync(plot, `${readFileSync(PLOT, 'utf8')}\n${marker}\n`);
  for (const wait of [[], ['--wait']]) {
    const r = await cli('generate', '--plot', plot, '--persona', 'Juno Parks', ...wait);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toBe('storyloom generate: no persona "Juno Parks" (closest: "Juno Park"). See `storyloom personas list`.');
  }
  // A start stores the plot first: none was stored (and so no run, and no run report, was made).
  const stored = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM screenplay_requests WHERE plot LIKE '%' || $1 || '%'`, [marker]);
  expect(stored[0].n).toBe(0);
});

it.each([
  ['a binary file', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), 'The plot is not UTF-8 text (found a NUL byte at offset 8)'],
  ['Latin-1 text', Buffer.from('A ferry to M\xe1laga in fog.\n', 'latin1'), 'The plot is not UTF-8 text (found invalid bytes at offset 12)'],
])('generate --plot with %s exits 2 with the reason, as an import of it would, and stores nothing', async (what, bytes, message) => {
  const plot = path.join(dir, `bad-plot-${what.replace(/\W+/g, '-')}.txt`);
  writeFileSync(plot, bytes);
  const before = (await stack.app.services.db.query('SELECT count(*)::int AS n FROM screenplay_requests'))[0].n;
  const r = await cli('generate', '--plot', plot, '--persona', 'Juno Park');
  expect(r).toMatchObject({ code: 2, out: '' });
  expect(r.err).toContain(`storyloom generate: ${plot}: ${message}`);
  expect((await stack.app.services.db.query('SELECT count(*)::int AS n FROM screenplay_requests'))[0].n).toBe(before);
});

it('export → ingest round trip: the exported Fountain imports, and `ingest <story>` ingests the version', async () => {
  const made = await cli('generate', '--plot', PLOT, '--persona', 'Mara Quill', '--persona', 'Old Harlan', '--title', 'Round Trip', '--wait');
  expect(made.code).toBe(0);
  const story = storyOf(made.err);
  const exported = await cli('screenplays', 'export', story);
  const file = path.join(dir, 'draft.fountain');
  writeFileSync(file, exported.stdout);
  const parsed = parseScreenplay(Buffer.from(exported.stdout), 'draft.fountain');
  expect(parsed.characters).toEqual(expect.arrayContaining(['MARA QUILL', 'OLD HARLAN']));

  const ingested = await cli('ingest', story, '--wait');
  expect(ingested.code).toBe(0);
  expect(ingested.out).toContain('Imported version 1 of the story as script "Round Trip (v1)"');
  expect(ingested.out).toContain(`summaries   ${parsed.scenes.length} made`);
  const show = await cli('screenplays', 'show', story);
  expect(show.out).toMatch(/ingested as script [0-9a-f-]{36}/);
  // Again: the version is that script already, unchanged (nothing is imported), and nothing is made.
  const again = await cli('ingest', story, '--wait');
  expect(again.code).toBe(0);
  expect(again.out).toContain('Version 1 of the story is script "Round Trip (v1)"');
  expect(again.out).toContain('already, unchanged');
  expect(again.out).toContain(`summaries   0 made, ${parsed.scenes.length} reused`);

  // The exported file imports as a script of its own, with the same scenes.
  const imported = await cli('import', file, '--title', 'Round Trip file');
  expect(imported.out).toContain(`scenes: ${parsed.scenes.length}`);
});

it('`screenplays show --version N` of an older version names the command that ingests that version, and `ingest <story> --version N` does', async () => {
  const title = `Two Drafts ${Date.now()}`;
  const first = await cli('generate', '--plot', PLOT, '--persona', 'Mara Quill', '--title', title, '--wait', '--no-cache');
  expect(first.code).toBe(0);
  const story = storyOf(first.err);
  expect((await cli('generate', '--story', story, '--persona', 'Old Harlan', '--wait', '--no-cache')).code).toBe(0);

  // The latest version: `ingest <story>` is the command; an older one needs its number.
  expect((await cli('screenplays', 'show', story)).out).toContain(`ingest it: storyloom ingest ${story}\n`);
  expect((await cli('screenplays', 'show', story, '--version', '1')).out).toContain(`ingest it: storyloom ingest ${story} --version 1\n`);

  const ingested = await cli('ingest', story, '--version', '1', '--wait');
  expect(ingested.code).toBe(0);
  expect(ingested.out).toContain(`Imported version 1 of the story as script "${title} (v1)"`);
  expect((await cli('screenplays', 'show', story, '--version', '1')).out).toMatch(/ingested as script [0-9a-f-]{36}/);
  expect((await cli('screenplays', 'show', story)).out).toContain(`ingest it: storyloom ingest ${story}\n`);

  // --version goes with a story only, and a version the story lacks is named.
  const missing = await cli('ingest', story, '--version', '9');
  expect(missing.code).toBe(2);
  expect(missing.err).toContain(`Story "${title}" has no version 9.`);
  const notStory = await cli('ingest', `No Such Story ${Date.now()}`, '--version', '1');
  expect(notStory.code).toBe(2);
  expect(notStory.err).toContain('--version goes with a generated story: no story');
  const file = path.join(dir, 'two-drafts.fountain');
  writeFileSync(file, (await cli('screenplays', 'export', story, '--version', '2')).stdout);
  const withFile = await cli('ingest', file, '--version', '1');
  expect(withFile.code).toBe(2);
  expect(withFile.err).toContain('--version goes with a generated story (ingest <story> --version N), not a file');
});

it('generate --ingest generates, then ingests the new version', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Ines Calder', '--title', 'Ingested Draft', '--ingest');
  expect(r.code).toBe(0);
  expect(r.err).toContain('as script "Ingested Draft (v1)"');
  expect(r.out).toMatch(/Ingestion completed/);
});

it('stores the run report like the other jobs: `report <workflowId>` shows it, once per run', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Tobias Wren', '--persona', 'Juno Park', '--title', 'Reported Draft', '--variants', '2', '--wait', '--no-cache');
  expect(r.code).toBe(0);
  const workflowId = /Report: storyloom report (screenplay-[0-9a-f-]{36})/.exec(r.err)![1];
  const story = storyOf(r.err);

  const report = await cli('report', workflowId);
  expect(report.code).toBe(0);
  expect(report.out).toContain(`Run report — generateScreenplay ${workflowId} (1 run): completed`);
  expect(report.out).toMatch(new RegExp(`Screenplay: story ${story}, 2 of 2 variant\\(s\\) saved \\(version\\(s\\) [12], [12]; 4 at a time\\); first token \\d+\\.\\d+ s; persona queries 1; save commits 2`));
  // Two variants in a window of 4: the bound is the slower call, not their sum.
  expect(report.out).toMatch(/Critical path: screenplay \(2 calls, ≥ \d+\.\d+ s\)/);
  expect(report.out).toMatch(/Phases: preparing \d+\.\d+ s, generating \d+\.\d+ s/);
  const json = JSON.parse((await cli('report', workflowId, '--json')).out);
  expect(json).toMatchObject({ kind: 'generateScreenplay', status: 'completed', scriptId: null, screenplay: { storyId: story, variants: 2, saveCommits: 2 } });
  expect(json.totals.providerCalls).toBeGreaterThanOrEqual(2);
  expect(json.criticalPath.lowerBoundMs).toBe(json.llm.find((l: { purpose: string }) => l.purpose === 'screenplay').maxMs);
  const rows = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM run_reports WHERE workflow_id = $1`, [workflowId]);
  expect(rows[0].n).toBe(1);
});

it('a failed run has its report too (unknown persona), with the error', async () => {
  // Started as another client may (the plot in its input): storyloom's own starts refuse an unknown persona before the run.
  const workflowId = `screenplay-${randomUUID()}`;
  const run = await stack.env.client.workflow.start('generateScreenplay', {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ plot: readFileSync(PLOT, 'utf8'), personaNames: ['Nobody Here'] }],
  });
  await expect(run.result()).rejects.toThrow();
  const report = await cli('report', workflowId);
  expect(report.code).toBe(0);
  expect(report.out).toContain(`generateScreenplay ${workflowId} (1 run): failed`);
  expect(report.out).toContain('Error: UnknownPersona: no persona "Nobody Here"');
});

describe('while the generated script is being ingested', () => {
  /** The script's row and scenes as an import writes them. */
  const storedScript = async (scriptId: string) =>
    (await stack.app.services.db.query(
      `SELECT s.title, s.source_name, s.updated_at, (SELECT json_agg(json_build_object('id', id, 'hash', content_hash, 'updated', updated_at) ORDER BY position) FROM scenes WHERE script_id = s.id) AS scenes
         FROM scripts s WHERE s.id = $1`,
      [scriptId],
    ))[0];
  /** Starts the script's ingestion and pauses it: it stays running until the test ends it. */
  async function holdIngestion(scriptId: string) {
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 1000 } } } });
    expect((await runCli('ingest', scriptId, '--concurrency-summaries', '1')).code).toBe(0);
    expect((await runCli('pause', scriptId)).code).toBe(0);
    const handle = stack.env.client.workflow.getHandle(`ingest-${scriptId}`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    return handle;
  }
  afterEach(() => stack.sim.configure({ latency: { byPurpose: { summary: null } } }));

  it('`ingest <story>` refuses before importing, as `ingest <file>` does: exit 3, the running one named and linked, nothing written', async () => {
    const made = await cli('generate', '--plot', PLOT, '--persona', 'Old Harlan', '--title', `Busy Story ${Date.now()}`, '--wait');
    const story = storyOf(made.err);
    const first = await cli('ingest', story);
    expect(first.code).toBe(0);
    const scriptId = /as script "[^"]+" \(([0-9a-f-]{36})\)/.exec(first.out)![1];
    await stack.env.client.workflow.getHandle(`ingest-${scriptId}`).terminate('held by the next step');
    const run = await holdIngestion(scriptId);
    try {
      const before = await storedScript(scriptId);
      const refused = await cli('ingest', story, '--wait');
      expect(refused.code).toBe(3);
      expect(refused.err).toContain(`storyloom ingest: "${(before as { title: string }).title}" is being ingested by workflow ingest-${scriptId}`);
      expect(refused.err).toContain('nothing was written');
      expect(refused.err).toContain(`Web UI: ${stack.app.config.temporal.uiUrl}/namespaces/default/workflows/ingest-${scriptId}`);
      expect(refused.out).toBe('');
      expect(await storedScript(scriptId)).toEqual(before);
      expect((await run.describe()).status.name).toBe('RUNNING');
    } finally {
      await run.terminate('test cleanup').catch(() => undefined);
    }
  });

  it('`generate --ingest` refuses the same way when its version would land in a script being ingested', async () => {
    const title = `Busy Generated ${Date.now()}`;
    // A script already titled as the new version will be ("<title> (v1)"), being ingested.
    const file = path.join(dir, 'busy.fountain');
    writeFileSync(file, 'INT. HARBOUR - NIGHT\n\nRain.\n\nMARA QUILL\nNot tonight.\n\nEXT. PIER - DAWN\n\nGulls.\n');
    const imported = await cli('import', file, '--title', `${title} (v1)`);
    const scriptId = /script id: (\S+)/.exec(imported.out)![1];
    const run = await holdIngestion(scriptId);
    try {
      const before = await storedScript(scriptId);
      const r = await cli('generate', '--plot', PLOT, '--persona', 'Mara Quill', '--title', title, '--ingest');
      expect(r.code).toBe(3);
      expect(r.err).toContain(`is being ingested by workflow ingest-${scriptId}`);
      expect(r.err).toContain(`Web UI: ${stack.app.config.temporal.uiUrl}/namespaces/default/workflows/ingest-${scriptId}`);
      expect(await storedScript(scriptId)).toEqual(before);
    } finally {
      await run.terminate('test cleanup').catch(() => undefined);
    }
  });
});
