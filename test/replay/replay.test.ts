/**
 * Determinism guard: histories recorded from real runs (test/replay/histories) must replay
 * against today's workflow code. A change that breaks determinism fails here; make it with
 * `patched()` instead, then re-record (see record-histories.test.ts).
 */
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { workflowBundle } from '../helpers/harness';

const DIR = path.join(__dirname, 'histories');
const histories = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const load = (file: string) => historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));

it('has recorded histories to replay', () => {
  expect(histories).toEqual(expect.arrayContaining(['ingest-full.json', 'ingest-flags-off.json', 'ingest-one-failure.json', 'smoke.json']));
});

it.each(histories)('replays %s without a determinism violation', async (file) => {
  await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: file }, load(file));
});

it('fails when workflow code schedules different commands (the guard can fail)', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'nondeterministic-workflows.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
  await expect(Worker.runReplayHistory({ workflowBundle: { code } }, load('ingest-full.json'))).rejects.toBeInstanceOf(DeterminismViolationError);
});
