/**
 * A Postgres outage longer than the retry budget loses nothing and fails nothing (issue 14,
 * gap 3): writes wait for the database to return, and `status` says they are waiting. The app
 * reaches Postgres through a TCP proxy the test cuts (the shared server is never stopped); its
 * budget for other errors is 3 attempts (~1.5 s), the outage 15 s.
 */
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { waitingLines } from '../../src/cli/waiting';
import { createLogger } from '../../src/observability/logger';
import { ingestionWorkflowId, type IngestionResult } from '../../src/shared/ingestion';
import { ingestScript, progressQuery } from '../../src/workflows';
import { startApp, testConfig, testDataConverter, testDatabaseUrl, useTestStack, type RunningApp } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { startPgProxy, type PgProxy } from '../../bench/chaos/pg-proxy';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('postgres-outage');
let proxy: PgProxy;
let app: RunningApp;

beforeAll(async () => {
  const direct = new URL(testDatabaseUrl());
  proxy = await startPgProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(direct.toString());
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  // Its error lines (writes failing while the database is away) would only clutter the output.
  const config = testConfig(stack.sim, { DATABASE_URL: viaProxy.toString(), STORYLOOM_DB_MAX_ATTEMPTS: '3' });
  app = await startApp(stack.env, config, 'pg-outage', { logger: createLogger('silent') });
});

it('Postgres away for 15 s mid-run: status says the run waits for the database; then it completes with every scene once', async () => {
  try {
    await outageRun();
  } finally {
    // Here, not in afterAll: the app's workers must stop before the file's dev server does.
    await proxy.restore().catch(() => undefined);
    await app.stop();
    await proxy.close();
  }
});

async function outageRun(): Promise<void> {
  const scenes = 30;
  const script = await importSynthetic(stack.app.services.db, scenes, 3, `PgOutage ${Date.now()}`);
  stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
  const handle = await stack.env.client.workflow.start(ingestScript, {
    taskQueue: app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 3, sheets: 2 }, writeBatchSize: 3 }],
  });
  await waitFor(async () => (await handle.query(progressQuery)).phases.summaries.done >= 6, 30_000, 'summaries under way');

  await proxy.cut();
  const cutAt = Date.now();
  const waiting = await waitFor(async () => {
    const lines = await waitingLines(await handle.describe(), loadDataConverter(testDataConverter()));
    return lines.some((l) => l.startsWith('waiting for the database to return')) ? lines : undefined;
  }, 30_000, 'status shows the wait');
  expect(waiting.join('\n')).toMatch(/attempt \d+/);
  await new Promise((r) => setTimeout(r, Math.max(0, 15_000 - (Date.now() - cutAt))));
  // Far past the 3-attempt budget, still waiting, nothing failed.
  const during = await handle.query(progressQuery);
  expect(during.phases.summaries.failed).toBe(0);
  await proxy.restore();

  const result: IngestionResult = await handle.result();
  expect(result.status).toBe('completed');
  expect(result.failureCount).toBe(0);
  expect(result.phases.summaries.done).toBe(scenes);
  const [row] = await stack.app.services.db.query(
    `SELECT count(*)::int AS n, count(DISTINCT ss.scene_id)::int AS distinct_scenes FROM scene_summaries ss JOIN scenes s ON s.id = ss.scene_id WHERE s.script_id = $1`,
    [script.scriptId],
  );
  expect(row).toEqual({ n: scenes, distinct_scenes: scenes });
  const [run] = await stack.app.services.db.query('SELECT status FROM ingestion_runs WHERE script_id = $1', [script.scriptId]);
  expect(run.status).toBe('completed');
}
