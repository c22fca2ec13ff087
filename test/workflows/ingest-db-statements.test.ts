/**
 * What a default ingestion sends to Postgres: the scenes and characters are read once per run,
 * and each call's `llm_calls` row and cache entry go with the batch write of its result, so
 * the statement count does not grow with the number of scenes.
 */
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { readRunDbStats, sumRunDbStats } from '../../src/observability/run-db-stats';
import { ingestScript } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';

const stack = useTestStack('ingest-db');
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

async function ingest(scenes: number) {
  const script = await importSynthetic(stack.app.services.db, scenes, 4, title(`Statements ${scenes}`));
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, { taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full' }] });
  const result = await handle.result();
  await stack.app.services.flushRecorders();
  const cost = sumRunDbStats(await readRunDbStats(stack.app.services.db, [workflowId]));
  return { script, workflowId, result, cost };
}

it('a default run costs the same statements for 10 scenes as for 40, every call row written once', async () => {
  stack.sim.resetStats();
  const small = await ingest(10);
  const large = await ingest(40);
  expect(small.result.status).toBe('completed');
  expect(large.result.status).toBe('completed');
  // 40 scenes is one more summary batch (25 per write) than 10, and nothing per scene; on a busy
  // machine a batch may also close on its time limit before it is full (one more).
  expect(large.cost.queries - small.cost.queries).toBeLessThanOrEqual(2);
  expect(large.cost.queries).toBeLessThanOrEqual(30);

  const db = stack.app.services.db;
  const calls: { purpose: string; n: string; keys: string }[] = await db.query(
    `SELECT purpose, count(*) AS n, count(DISTINCT call_key) AS keys FROM llm_calls WHERE workflow_id = $1 AND outcome = 'ok' GROUP BY purpose ORDER BY purpose`,
    [large.workflowId],
  );
  expect(Object.fromEntries(calls.map((c) => [c.purpose, [Number(c.n), Number(c.keys)]]))).toEqual({
    embedding: [1, 1],
    outline: [1, 1],
    sheet: [4, 4],
    summary: [40, 40],
  });
  // The answers are cached (with the batch that stored them): a cache-on partial run of an edited scene could reuse them.
  const [{ n: cached }] = await db.query(
    `SELECT count(*) AS n FROM llm_response_cache WHERE key IN (SELECT cache_key FROM llm_calls WHERE workflow_id = $1 AND purpose IN ('summary', 'sheet'))`,
    [large.workflowId],
  );
  expect(Number(cached)).toBe(44);
});
