/**
 * Records histories of real runs (via the Temporal CLI's JSON export, as a user would from the
 * Web UI) and checks they replay against today's code. With STORYLOOM_RECORD_HISTORIES=1 it
 * also writes them, sanitized, to test/replay/histories/v<package version>/ for replay.test.ts
 * to guard from then on. It writes only histories that are missing: a release's set is
 * recorded once and never replaced. Each job's recorder (record-*.test.ts) uses this.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { testDataConverter, workflowBundle } from '../helpers/harness';
import { machineTraces, sanitizeHistory } from './sanitize-history';

const { version } = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
export const HISTORIES_OUT = path.join(__dirname, 'histories', `v${version}`);

export function exportHistory(address: string, workflowId: string, runId?: string): string {
  const args = ['workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--address', address, '--output', 'json'];
  return execFileSync(process.env.TEMPORAL_CLI!, args, { encoding: 'utf8' });
}

/** Exports, sanitizes and replays one run's history (writing it when recording); returns its JSON. */
export async function recordAndReplay(address: string, name: string, workflowId: string, runId?: string): Promise<string> {
  const json = JSON.stringify(sanitizeHistory(JSON.parse(exportHistory(address, workflowId, runId))), null, 2);
  expect(machineTraces(json)).toEqual([]);
  await Worker.runReplayHistory({ workflowBundle: workflowBundle(), replayName: name, dataConverter: testDataConverter() }, historyFromJSON(JSON.parse(json)));
  if (process.env.STORYLOOM_RECORD_HISTORIES === '1') {
    const file = path.join(HISTORIES_OUT, `${name}.json`);
    mkdirSync(HISTORIES_OUT, { recursive: true });
    if (!existsSync(file)) writeFileSync(file, `${json}\n`);
  }
  return json;
}
