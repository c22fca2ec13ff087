/**
 * Ingestion modes through the CLI: a script's first ingestion is full (also when the file was
 * imported before), a later default run is partial, and `--full` redoes every step with fresh
 * provider calls — no stored summary reused, no answer read from the response cache.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript } from '../../src/workflows';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { FIXTURES, importFixture } from '../helpers/scripts';

const stack = useTestStack('ingest-modes');
let restoreEnv: () => void;

beforeAll(() => {
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restoreEnv?.());

// night-ferry under a title of its own: 6 scenes (its OPENING one included), 5 speakers (its narrator included).
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-modes-'));
const scriptFile = path.join(dir, 'ferry.fountain');
writeFileSync(scriptFile, readFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), 'utf8').replace('\tA Short Crossing', `\tModes ${Date.now()}`));
let scriptId: string;

it('a file imported first, then ingested, gets a partial first run that makes everything', async () => {
  const imported = await runCli('import', scriptFile);
  expect(imported.code).toBe(0);
  scriptId = /script id: (\S+)/.exec(imported.out)![1];
  const result = await runCli('ingest', scriptFile, '--wait');
  expect(result.code).toBe(0);
  expect(result.out).toMatch(/Ingestion completed in [\d.]+ s \(partial;/);
  // Other test files may have ingested the same scenes into this database: the cache may answer them.
  expect(result.out).toMatch(/summaries {3}6 made( \(\d from the cache\))?, 0 reused, 0 failed of 6/);
  expect(result.out).toContain('sheets      5 made, 0 reused, 0 failed of 5');
});

it('a first ingestion of the same scenes under another title pays only for what names the title: the cache answers the rest', async () => {
  const copy = path.join(dir, 'ferry-copy.fountain');
  writeFileSync(copy, readFileSync(scriptFile, 'utf8').replace(/Title:\s*(.*)/, (_, t: string) => `Title: ${t} (copy)`));
  stack.sim.resetStats();
  const result = await runCli('ingest', copy, '--wait');
  expect(result.code).toBe(0);
  expect(result.out).toContain('Imported "');
  // Made for this script, answered by the cache: said apart from what was paid for.
  expect(result.out).toContain('summaries   6 made (6 from the cache), 0 reused, 0 failed of 6');
  expect(result.out).toContain('embeddings  6 made (6 from the cache), 0 reused, 0 failed of 6');
  expect(result.out).toContain('outline     1 made, 0 reused, 0 failed of 1');
  // The summaries and embeddings are the scenes' own; the outline's and the sheets' prompts name the script.
  const stats = stack.sim.stats();
  expect(stats.byPurpose.summary).toBeUndefined();
  expect(stats.byPurpose.embedding).toBeUndefined();
  expect(stats.byPurpose.outline.requests).toBe(1);
  expect(stats.byPurpose.sheet.requests).toBe(5);
});

it('later default runs are partial, from the file or the script id, and call nothing', async () => {
  stack.sim.resetStats();
  const fromFile = await runCli('ingest', scriptFile, '--wait');
  expect(fromFile.out).toMatch(/\(partial;/);
  const fromId = await runCli('ingest', scriptId, '--wait');
  expect(fromId.code).toBe(0);
  expect(fromId.out).toMatch(/\(partial;/);
  expect(fromId.out).toContain('summaries   0 made, 6 reused, 0 failed of 6');
  expect(stack.sim.stats().totalRequests).toBe(0);
});

it('--full makes every call again: each scene summarised, outline, sheets and embeddings remade, none from the cache', async () => {
  stack.sim.resetStats();
  const result = await runCli('ingest', scriptId, '--full', '--wait');
  expect(result.code).toBe(0);
  expect(result.out).toMatch(/\(full;/);
  expect(result.out).toContain('summaries   6 made, 0 reused, 0 failed of 6');
  const stats = stack.sim.stats();
  expect(stats.byPurpose.summary.requests).toBe(6);
  expect(stats.byPurpose.outline.requests).toBe(1);
  expect(stats.byPurpose.sheet.requests).toBe(5);
  expect(stats.byPurpose.embedding).toMatchObject({ requests: 1, embeddingInputs: 6 });
});

it('a full run that continues as new still redoes every scene, each once', async () => {
  const script = await importFixture(stack.app.services.db, 'fountain/night-ferry.fountain', `Modes long ${Date.now()}`);
  const execute = (mode: 'full' | 'partial') =>
    stack.env.client.workflow.execute(ingestScript, {
      taskQueue: stack.app.taskQueue,
      workflowId: ingestionWorkflowId(script.scriptId),
      args: [{ scriptId: script.scriptId, mode, scenesPerRun: 2 }],
    });
  expect((await execute('full')).status).toBe('completed');
  stack.sim.resetStats();
  const again = await execute('full');
  expect(again).toMatchObject({ status: 'completed', runs: 3 });
  expect(again.phases.summaries).toMatchObject({ total: 6, done: 6, reused: 0 });
  expect(stack.sim.stats().byPurpose.summary.requests).toBe(6);
});
