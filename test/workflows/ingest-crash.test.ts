/**
 * Ingestion when things break for real: a worker process SIGKILLed mid-summaries, and a model
 * that answers structured requests with the wrong shape. Real dev server, Postgres, simulator.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { LlmFailureType } from '../../src/shared/failure-types';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript, progressQuery } from '../../src/workflows';
import { createServices, type AppServices } from '../../src/runtime';
import { queueFor, startApp, startTestTemporal, testConfig } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { startWorkerProcess, workerEnv, type WorkerProcess } from '../helpers/worker-process';
import { waitFor } from '../helpers/wait';

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let services: AppServices;
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator()]);
  services = await createServices(testConfig(sim));
});
afterAll(async () => {
  await services?.close();
  await sim?.close();
  await env?.teardown();
});
beforeEach(() => {
  sim.configure({ faults: [], latency: null, limits: null });
  sim.resetStats();
});

const count = async (sql: string, params: unknown[]) => Number((await services.db.query(sql, params))[0].n);

/** Provider calls (not cache hits) in the call log, and rows sharing a call key (there must be none). */
async function callLog(workflowId: string) {
  const [row] = await services.db.query(
    `SELECT count(*) FILTER (WHERE outcome <> 'cache_hit') AS provider_calls,
            count(*) FILTER (WHERE outcome = 'ok') AS ok,
            count(*) FILTER (WHERE outcome = 'cache_hit') AS cache_hits,
            count(*) FILTER (WHERE call_key IS NULL) AS unkeyed,
            count(*) - count(DISTINCT call_key) AS duplicate_keys
       FROM llm_calls WHERE workflow_id = $1`,
    [workflowId],
  );
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

it('a worker SIGKILLed mid-summaries: the run completes, each summary written once, every paid call recorded once', async () => {
  const scenes = 10;
  const script = await importSynthetic(services.db, scenes, 3, title('Crash'));
  const workflowId = ingestionWorkflowId(script.scriptId);
  // Scenes 1–4 are answered; scenes 5 and 6 hang on their first attempt, so when the kill
  // comes every answer the simulator served was received (nothing is served mid-kill).
  sim.configure({
    latency: { byPurpose: { summary: { fixedMs: 100 } } },
    faults: [5, 6].map((scene) => ({ kind: 'hang' as const, purpose: 'summary', contains: `in scene ${scene} (`, times: 1 })),
  });
  const taskQueue = queueFor('crash');
  // A request timeout well past the kill: under load the hung requests must still be hanging
  // (not timed out and retried, answered) when the worker dies.
  const childEnv = workerEnv({ sim, address: env.address, taskQueue, env: { STORYLOOM_LLM_TIMEOUT_MS: '120000' } });
  let worker: WorkerProcess | undefined = await startWorkerProcess(childEnv);
  try {
    const handle = await env.client.workflow.start(ingestScript, {
      taskQueue,
      workflowId,
      args: [{ scriptId: script.scriptId, mode: 'full', concurrency: { summaries: 2 }, writeBatchSize: 3 }],
    });
    await waitFor(
      async () => (await handle.query(progressQuery)).phases.summaries.done >= 4 && sim.stats().byPurpose.summary?.errors.hang === 2,
      60_000,
      '4 summaries done and 2 hanging',
    );
    await worker.kill();
    expect(sim.stats().byPurpose.summary).toMatchObject({ ok: 4, errors: { hang: 2 } });

    worker = await startWorkerProcess(childEnv);
    const result = await handle.result();

    expect(result.status).toBe('completed');
    expect(result.phases.summaries).toMatchObject({ total: scenes, done: scenes, failed: 0 });
    expect(await count('SELECT count(*) AS n FROM scene_summaries ss JOIN scenes s ON s.id = ss.scene_id WHERE s.script_id = $1', [script.scriptId])).toBe(scenes);
    // Each scene was summarised by the provider once: the finished ones were not redone.
    const stats = sim.stats();
    expect(stats.byPurpose.summary.ok).toBe(scenes);
    // Every call the simulator answered is in the call log once; the two hung requests died
    // with the killed worker, unanswered.
    const log = await callLog(workflowId);
    expect(log).toEqual({ provider_calls: stats.totalRequests - 2, ok: stats.ok, cache_hits: 0, unkeyed: 0, duplicate_keys: 0 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nworker stderr:\n${worker?.stderr() ?? ''}`);
  } finally {
    await worker?.stop();
  }
}, 240_000);

it('a schema-breaking character sheet is not cached: the retry asks the provider again and the run completes', async () => {
  const app = await startApp(env, testConfig(sim), 'wrong-shape');
  try {
    const script = await importSynthetic(services.db, 6, 3, title('Shape'));
    const workflowId = ingestionWorkflowId(script.scriptId);
    sim.configure({ faults: [{ kind: 'wrongShape', purpose: 'sheet', times: 1 }] });
    const result = await env.client.workflow.execute(ingestScript, {
      taskQueue: app.taskQueue,
      workflowId,
      args: [{ scriptId: script.scriptId, mode: 'full' }],
    });
    expect(result.status).toBe('completed');
    expect(result.phases.sheets).toMatchObject({ total: 3, done: 3, failed: 0 });
    expect(sim.stats().byPurpose.sheet).toMatchObject({ requests: 4, errors: { wrongShape: 1 } });
    const rows: { outcome: string; error_type: string | null; n: string }[] = await app.services.db.query(
      `SELECT outcome, error_type, count(*) AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'sheet' GROUP BY 1, 2 ORDER BY 1`,
      [workflowId],
    );
    expect(rows.map((r) => ({ ...r, n: Number(r.n) }))).toEqual([
      { outcome: 'error', error_type: LlmFailureType.InvalidOutput, n: 1 },
      { outcome: 'ok', error_type: null, n: 3 },
    ]);
  } finally {
    await app.stop();
  }
});
