/**
 * The deferred `llm_calls` rows and cache entries a provider batch of thousands of items writes
 * at once: over Postgres's 65,535 bind parameters they are sent as several statements in one
 * transaction (one statement refused them with 08P01, which was then waited out as an outage;
 * more items overflowed the stack), and still all or nothing.
 */
import { randomUUID } from 'node:crypto';
import type { LlmCallRecord } from '../../src/llm/call-log';
import type { CacheEntry } from '../../src/llm/response-cache';
import { deferredLlmStatements } from '../../src/db/repositories/deferred-llm-writes';
import { MAX_BIND_PARAMETERS, writeInOneStatement } from '../../src/db/repositories/multi-row';
import { isDatabaseUnreachable } from '../../src/activities/attempt-budget';
import { useTestServices } from '../helpers/harness';

const stack = useTestServices();

function items(n: number, workflowId: string) {
  const calls: LlmCallRecord[] = [];
  const cacheEntries: { key: string; entry: CacheEntry }[] = [];
  for (let i = 0; i < n; i++) {
    calls.push({
      purpose: 'synthesis', provider: 'anthropic', model: 'm', promptVersion: 'v', outcome: 'ok', errorType: null, latencyMs: 5, inputTokens: 1, outputTokens: 2,
      workflowId, runId: 'r', activityId: 'a', activityType: 'fetchProviderBatchResults', attempt: 1, cacheKey: `${workflowId}-${i}`, callKey: `${workflowId}/${i}`, batch: true,
    });
    cacheEntries.push({ key: `${workflowId}-${i}`, entry: { provider: 'anthropic', model: 'm', promptVersion: 'v', purpose: 'synthesis', response: { text: `story ${i}` } } });
  }
  return { calls, cacheEntries };
}

const count = async (sql: string, workflowId: string) => Number((await stack.services.db.query(sql, [workflowId]))[0].n);

it.each([3_200, 9_000])('%i items: every row and entry written, and a retry duplicates none', async (n) => {
  const workflowId = `deferred-${randomUUID()}`;
  const statements = deferredLlmStatements(stack.services.db.manager, [items(n, workflowId)]);
  expect(statements.reduce((k, s) => k + s.params.length, 0)).toBeGreaterThan(MAX_BIND_PARAMETERS);
  await writeInOneStatement(stack.services.db, statements);
  expect(await count('SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1', workflowId)).toBe(n);
  expect(await count(`SELECT count(*) AS n FROM llm_response_cache WHERE key LIKE $1 || '-%'`, workflowId)).toBe(n);
  // Written again (a retried activity): nothing is duplicated.
  await writeInOneStatement(stack.services.db, statements);
  expect(await count('SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1', workflowId)).toBe(n);
});

it('a statement the server refuses as a protocol violation (08P01) is not taken for an unreachable database', () => {
  expect(isDatabaseUnreachable(Object.assign(new Error('bind message has 11264 parameter formats but 0 parameters'), { code: '08P01' }))).toBe(false);
  expect(isDatabaseUnreachable(Object.assign(new Error('connection failure'), { code: '08006' }))).toBe(true);
});
