/**
 * A Postgres outage while a screenplay streams: the answers paid for are kept. The app reaches
 * Postgres through a TCP proxy the test cuts while the variants stream (the shared server is never
 * stopped); the writes after each answer (its call row, its cache entry, its version) wait for the
 * database instead of failing the attempt, whose retry would pay for the same answer again.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/observability/logger';
import { screenplayWorkflowId } from '../../src/shared/screenplay';
import { generateScreenplay } from '../../src/workflows';
import { startApp, testConfig, testDatabaseUrl, useTestStack, type RunningApp } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';
import { startPgProxy, type PgProxy } from '../../bench/chaos/pg-proxy';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('postgres-outage-screenplay');
let proxy: PgProxy;
let app: RunningApp;

beforeAll(async () => {
  await importCrew(stack.app.services.db);
  const direct = new URL(testDatabaseUrl());
  proxy = await startPgProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(direct.toString());
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  app = await startApp(stack.env, testConfig(stack.sim, { DATABASE_URL: viaProxy.toString() }), 'pg-outage-screenplay', { logger: createLogger('silent') });
});

it('Postgres away as the variants finish streaming: each answer is paid for once, logged once, saved once', async () => {
  try {
    // About 4 s of streaming per variant; the database goes away 1 s in and comes back 8 s later.
    stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 2 } } } });
    stack.sim.resetStats();
    const workflowId = screenplayWorkflowId(randomUUID());
    const handle = await stack.env.client.workflow.start(generateScreenplay, {
      taskQueue: app.taskQueue,
      workflowId,
      args: [{ plot: HARBOUR_PLOT, personaNames: CREW.slice(0, 2), title: `Outage ${workflowId}`, variants: 2, flags: { useCache: false } }],
    });
    await waitFor(() => (stack.sim.stats().byPurpose.screenplay?.requests ?? 0) >= 2, 30_000, 'both variants streaming');
    await new Promise((r) => setTimeout(r, 1000));
    await proxy.cut();
    await waitFor(() => (stack.sim.stats().byPurpose.screenplay?.ok ?? 0) >= 2, 30_000, 'both answers in while the database is away');
    await new Promise((r) => setTimeout(r, 3000));
    await proxy.restore();

    const result = await handle.result();
    expect(result.variants.map((v) => v.version).sort()).toEqual([1, 2]);
    // Paid for once each: no attempt was failed by the outage and run again.
    expect(stack.sim.stats().byPurpose.screenplay.requests).toBe(2);
    const [calls] = await stack.app.services.db.query(
      "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'screenplay' AND outcome = 'ok'",
      [workflowId],
    );
    expect(calls.n).toBe(2);
    const [versions] = await stack.app.services.db.query('SELECT count(*)::int AS n FROM screenplay_versions WHERE story_id = $1', [result.storyId]);
    expect(versions.n).toBe(2);
  } finally {
    await proxy.restore().catch(() => undefined);
    await app.stop();
    await proxy.close();
  }
});
