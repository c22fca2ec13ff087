/**
 * Determinism guard: histories recorded from real runs of each release
 * (test/replay/histories/v<version>/) must replay against today's workflow code. A change that
 * breaks determinism fails here: make it behind `patched()` so runs recorded before it replay
 * the old way. Histories are never re-recorded or edited to make a change pass (README,
 * "Changing workflow code").
 */
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testDataConverter, workflowBundle } from '../helpers/harness';
import { machineTraces } from './sanitize-history';
import { splitAfterFirstLocalActivity } from './split-local-activity-task';

const DIR = path.join(__dirname, 'histories');
const histories = readdirSync(DIR, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.split(path.sep).join('/'))
  .sort();
const text = (file: string) => readFileSync(path.join(DIR, file), 'utf8');
const load = (file: string) => historyFromJSON(JSON.parse(text(file)));

const RELEASE_SET = [
  'ingest-full', 'ingest-flags-off', 'ingest-one-failure', 'smoke',
  'ingest-continue-as-new-run1', 'ingest-continue-as-new-run2', 'ingest-continue-as-new-run3',
  'ingest-pause-resume', 'ingest-set-concurrency', 'ingest-cancelled-phase1',
];

// 0.1.0 steers by signals; 0.2.0 by updates (one refused by its validator) and sets search attributes.
it.each(['v0.1.0', 'v0.2.0'])('has the histories of release %s to replay', (release) => {
  expect(histories).toEqual(expect.arrayContaining(RELEASE_SET.map((name) => `${release}/${name}.json`)));
});

// 0.4.0: every job again, with that release's patches (an outage pause that ends by a probe,
// screenplay run reports, session summaries and search attributes); 0.5.0: every job again, the
// ingestion with a phase's last writes and the run's report as local activities; 0.6.0: every
// job again, the ingestion's start and its last summaries with phase 2's plan in one local activity each;
// 0.7.0: every job again, a story session's turn under a 5 s heartbeat timeout; 0.7.1: every job
// again, the ingestion and the session asking for their patches before their first local activity;
// 0.7.2: every job again, the ingestion asking for two more, and one cancelled during its last write;
// 0.7.3: every job again, failures encoded (encrypted) in history, a session cancelled mid-turn;
// 0.8.0: every job again, screenplays started with the plot stored by workflow id (none in the input);
// 0.8.1: every job again, sessions asking for the continue-as-new suggestion patch; 0.8.2: every
// job again, stories asking for their patches first and storing a cancelled run's report after its row;
// 0.8.3: every job again, streamed activities (screenplay variants, session steps) with a longer limit;
// 0.8.4: every job again, screenplay activities with summaries, stories' clustering with a longer limit;
// 0.8.5: every job again, stories asking for the patch that keeps an early end's paid calls in pieces;
// 0.8.6: every job again, stories asking for the patch that writes syntheses as they are made;
// 0.8.7: every job again, stories asking for continue-as-new and for a paused batch to wait;
// 0.8.8: every job again, stories asking for the patch that lets a started last write complete the run.
it.each(['v0.4.0', 'v0.5.0', 'v0.6.0', 'v0.7.0', 'v0.7.1', 'v0.7.2', 'v0.7.3', 'v0.8.0', 'v0.8.1', 'v0.8.2', 'v0.8.3', 'v0.8.4', 'v0.8.5', 'v0.8.6', 'v0.8.7', 'v0.8.8'])('has the histories of release %s to replay', (release) => {
  const set = [
    ...RELEASE_SET, 'ingest-outage-auto-resume',
    'stories-first', 'stories-unchanged', 'stories-one-failure', 'stories-steered', 'stories-batch', 'stories-batch-cancelled',
    'screenplay-variants', 'screenplay-unknown-persona', 'screenplay-cancelled',
    'session-turns-continue-as-new', 'session-turn-and-end',
  ];
  expect(histories).toEqual(expect.arrayContaining(set.map((name) => `${release}/${name}.json`)));
});

// 0.3.0: story sessions (turns as updates, tools, continue-as-new, end).
it.each(['v0.7.2/ingest-cancelled-in-last-write', 'v0.7.3/ingest-cancelled-in-last-write', 'v0.7.3/session-cancelled-mid-turn', 'v0.8.0/ingest-cancelled-in-last-write', 'v0.8.0/session-cancelled-mid-turn',
  'v0.8.1/ingest-cancelled-in-last-write', 'v0.8.1/session-cancelled-mid-turn', 'v0.8.1/session-continued-when-suggested',
  'v0.8.2/ingest-cancelled-in-last-write', 'v0.8.2/session-cancelled-mid-turn', 'v0.8.2/session-continued-when-suggested',
  'v0.8.3/ingest-cancelled-in-last-write', 'v0.8.3/session-cancelled-mid-turn', 'v0.8.3/session-continued-when-suggested',
  'v0.8.4/ingest-cancelled-in-last-write', 'v0.8.4/session-cancelled-mid-turn', 'v0.8.4/session-continued-when-suggested',
  'v0.8.5/ingest-cancelled-in-last-write', 'v0.8.5/session-cancelled-mid-turn', 'v0.8.5/session-continued-when-suggested',
  'v0.8.5/stories-cancelled-after-syntheses',
  'v0.8.6/ingest-cancelled-in-last-write', 'v0.8.6/session-cancelled-mid-turn', 'v0.8.6/session-continued-when-suggested',
  'v0.8.6/stories-cancelled-after-syntheses', 'v0.8.6/stories-written-as-made',
  'v0.8.7/ingest-cancelled-in-last-write', 'v0.8.7/session-cancelled-mid-turn', 'v0.8.7/session-continued-when-suggested',
  'v0.8.7/stories-cancelled-after-syntheses', 'v0.8.7/stories-written-as-made', 'v0.8.7/stories-continued-as-new',
  'v0.8.7/stories-continued-as-new-run2', 'v0.8.7/stories-continued-as-new-run3',
  'v0.8.8/ingest-cancelled-in-last-write', 'v0.8.8/session-cancelled-mid-turn', 'v0.8.8/session-continued-when-suggested',
  'v0.8.8/stories-cancelled-after-syntheses', 'v0.8.8/stories-written-as-made', 'v0.8.8/stories-continued-as-new',
  'v0.8.8/stories-continued-as-new-run2', 'v0.8.8/stories-continued-as-new-run3'])('has the history %s to replay', (name) => {
  expect(histories).toContain(`${name}.json`);
});

it.each(['session-turns-continue-as-new', 'session-turn-and-end'])('has the story session history v0.3.0/%s to replay', (name) => {
  expect(histories).toContain(`v0.3.0/${name}.json`);
});

// 0.3.0: generateStories (test/replay/record-stories.test.ts).
it.each(['stories-first', 'stories-unchanged', 'stories-one-failure', 'stories-steered'])('has the generateStories history %s of release 0.3.0', (name) => {
  expect(histories).toContain(`v0.3.0/${name}.json`);
});

// 0.3.0: generateStories --batch (test/replay/record-stories-batch.test.ts).
it.each(['stories-batch', 'stories-batch-cancelled'])('has the generateStories batch history %s of release 0.3.0', (name) => {
  expect(histories).toContain(`v0.3.0/${name}.json`);
});

const SCREENPLAY_SET = ['screenplay-variants', 'screenplay-unknown-persona', 'screenplay-cancelled'];

it.each(SCREENPLAY_SET)('has the generateScreenplay history v0.3.0/%s.json to replay', (name) => {
  expect(histories).toContain(`v0.3.0/${name}.json`);
});

it.each(histories)('%s holds no stack trace, machine path or worker identity', (file) => {
  expect(machineTraces(text(file))).toEqual([]);
});

it.each(histories)('replays %s without a determinism violation', async (file) => {
  await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: file, dataConverter: testDataConverter() }, load(file));
});

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

// A run whose first local activity ended while its workflow task was being completed: the
// marker in that task, what followed its result in the next (patches-first.ts).
const splitHistory = (file: string) => historyFromJSON(splitAfterFirstLocalActivity(JSON.parse(text(file))));

it.each(['v0.7.1/ingest-full.json', 'v0.7.1/ingest-one-failure.json', 'v0.7.1/session-turn-and-end.json'])(
  'replays %s with the result of its first local activity in the next workflow task',
  async (file) => {
    await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: file, dataConverter: testDataConverter() }, splitHistory(file));
  },
);

it('a run recorded before patches-first fails to replay that way (what the patch mends)', async () => {
  // 0.7.0 asked for `search-attributes` after its first local activity: a replay resolves the
  // activity a task early, where that patch is not known yet.
  await expect(
    Worker.runReplayHistory({ workflowBundle: workflowBundle(), dataConverter: testDataConverter() }, splitHistory('v0.7.0/ingest-full.json')),
  ).rejects.toBeInstanceOf(DeterminismViolationError);
});

it('fails when workflow code schedules different commands (the guard can fail)', async () => {
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'nondeterministic-workflows.ts'), logger: silent });
  await expect(Worker.runReplayHistory({ workflowBundle: { code } }, load('v0.1.0/ingest-full.json'))).rejects.toBeInstanceOf(DeterminismViolationError);
});

/**
 * Bundles the real workflows with `ingest-script.ts` rewritten by `change`: a copy of
 * src/workflows and src/shared (all workflow code may import) in a temporary directory.
 */
async function bundleChangedIngestScript(change: (source: string) => string): Promise<string> {
  const repo = path.resolve(__dirname, '../..');
  const root = mkdtempSync(path.join(tmpdir(), 'storyloom-changed-workflow-'));
  try {
    for (const dir of ['workflows', 'shared']) cpSync(path.join(repo, 'src', dir), path.join(root, 'src', dir), { recursive: true });
    symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    const file = path.join(root, 'src/workflows/ingest-script.ts');
    writeFileSync(file, change(readFileSync(file, 'utf8')));
    return (await bundleWorkflowCode({ workflowsPath: path.join(root, 'src/workflows'), logger: silent })).code;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const PHASE2_ORDER = /(\(\) => outlineStep\([^)]*\),)(\s*)(\(\) => sheetsStep\([^)]*\),)/;

it('fails when the real ingestScript runs two of its activities in the other order', async () => {
  const source = readFileSync(path.resolve(__dirname, '../../src/workflows/ingest-script.ts'), 'utf8');
  expect(source).toMatch(PHASE2_ORDER);
  // The copy replays as it is, so what fails below is the reorder alone.
  const unchanged = await bundleChangedIngestScript((s) => s);
  await Worker.runReplayHistory({ workflowBundle: { code: unchanged } }, load('v0.1.0/ingest-flags-off.json'));
  // Sheets before the outline (phase 2 runs its steps one after another with the flags off).
  const reordered = await bundleChangedIngestScript((s) => s.replace(PHASE2_ORDER, '$3$2$1'));
  await expect(Worker.runReplayHistory({ workflowBundle: { code: reordered } }, load('v0.1.0/ingest-flags-off.json'))).rejects.toBeInstanceOf(DeterminismViolationError);
});
