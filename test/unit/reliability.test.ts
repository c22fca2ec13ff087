/** The reliability parts without a network: the AIMD gate, the outage detector, error classes, the call log's waits. */
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { isDatabaseUnreachable, waitReason } from '../../src/activities/attempt-budget';
import { BufferedCallLog, type CallLog, type LlmCallRecord } from '../../src/llm/call-log';
import { LlmService, rateLimitBackoffMs } from '../../src/llm/llm-service';
import { toLlmFailure } from '../../src/llm/errors';
import { ProviderRegistry } from '../../src/llm/registry';
import { MemoryCacheStore } from '../../src/llm/response-cache';
import type { ChatProvider } from '../../src/llm/types';
import { OutageDetector } from '../../src/llm/outage-detector';
import { AimdGate } from '../../src/llm/rate-gate';
import { LlmFailureType } from '../../src/shared/failure-types';

describe('AimdGate', () => {
  it('lets `max` in, then makes the next wait until one is released', async () => {
    const gate = new AimdGate({ provider: 'p', max: 2 });
    const a = await gate.acquire();
    await gate.acquire();
    let third = false;
    const pending = gate.acquire().then((p) => {
      third = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    a.release();
    (await pending).release();
    expect(third).toBe(true);
  });

  it('lowers the limit once per generation on rate limits, raises it back as calls succeed at the limit', async () => {
    const changes: number[] = [];
    const gate = new AimdGate({ provider: 'p', max: 10, decrease: 0.5, onChange: (c) => changes.push(c.limit) });
    const permits = await Promise.all(Array.from({ length: 10 }, () => gate.acquire()));
    // Ten requests of one generation come back 429: one decrease, not ten.
    for (const p of permits) gate.rateLimited(p);
    expect(gate.limit).toBe(5);
    for (const p of permits) p.release();
    const next = await gate.acquire();
    gate.rateLimited(next);
    next.release();
    expect(gate.limit).toBe(2);
    for (let i = 0; i < 200 && gate.limit < 10; i++) {
      const held = await Promise.all(Array.from({ length: gate.limit }, () => gate.acquire()));
      gate.succeeded();
      for (const p of held) p.release();
    }
    expect(gate.limit).toBe(10);
    expect(changes.slice(0, 2)).toEqual([5, 2]);
  });

  it('lowers the limit at most once per retry-after the provider asked for', async () => {
    let t = 0;
    const gate = new AimdGate({ provider: 'p', max: 10, decrease: 0.5, now: () => t });
    const first = await gate.acquire();
    gate.rateLimited(first, 2000);
    first.release();
    expect(gate.limit).toBe(5);
    // A later generation's 429 inside the 2 s it asked for: the same episode, no second decrease.
    t = 1500;
    const inside = await gate.acquire();
    gate.rateLimited(inside, 2000);
    inside.release();
    expect(gate.limit).toBe(5);
    t = 2000;
    const after = await gate.acquire();
    gate.rateLimited(after, 2000);
    after.release();
    expect(gate.limit).toBe(2);
  });

  it('does not grow while the limit is not in use', async () => {
    const gate = new AimdGate({ provider: 'p', max: 10, decrease: 0.5 });
    gate.rateLimited(await gate.acquire());
    const before = gate.limit;
    for (let i = 0; i < 50; i++) {
      const p = await gate.acquire();
      gate.succeeded();
      p.release();
    }
    expect(gate.limit).toBe(before);
  });

  it('a waiter whose signal aborts leaves the queue with the reason', async () => {
    const gate = new AimdGate({ provider: 'p', max: 1 });
    await gate.acquire();
    const ac = new AbortController();
    const waiting = gate.acquire(ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});

describe('OutageDetector', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 0;
  });

  it('declares an outage when most recent calls across items fail the same transient way', () => {
    const d = new OutageDetector({ now });
    for (let i = 0; i < 4; i++) d.succeeded('anthropic', `ok${i}`);
    let outage;
    for (let i = 0; i < 16 && !outage; i++) outage = d.failed('anthropic', `item${i % 8}`, LlmFailureType.Transient, 'failed with 502: bad gateway');
    expect(outage).toMatchObject({ provider: 'anthropic', errorType: LlmFailureType.Transient });
    expect(outage?.failures).toBeGreaterThanOrEqual(16 * 0.8);
    // Still down for the next failure, over at the first success.
    expect(d.failed('anthropic', 'item9', LlmFailureType.Transient, '502')).toBeDefined();
    d.succeeded('anthropic', 'item9');
    expect(d.current('anthropic')).toBeUndefined();
  });

  it('one item failing again and again is no outage; nor are rate limits or 4xx', () => {
    const d = new OutageDetector({ now });
    for (let i = 0; i < 30; i++) expect(d.failed('openai', 'same-scene', LlmFailureType.Transient, '500')).toBeUndefined();
    for (let i = 0; i < 30; i++) expect(d.failed('openai', `s${i}`, LlmFailureType.RateLimited, '429')).toBeUndefined();
    for (let i = 0; i < 30; i++) expect(d.failed('openai', `s${i}`, LlmFailureType.InvalidRequest, '400')).toBeUndefined();
  });

  it('an outage ends after ttlMs without a failure', () => {
    const d = new OutageDetector({ now, ttlMs: 1000 });
    for (let i = 0; i < 20; i++) d.failed('ollama', `i${i}`, LlmFailureType.Timeout, 'timed out');
    expect(d.current('ollama')).toBeDefined();
    t += 1001;
    expect(d.current('ollama')).toBeUndefined();
  });
});

describe('wait reasons', () => {
  it('database connection errors, wrapped or not, are waited out', () => {
    expect(isDatabaseUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnreachable({ name: 'QueryFailedError', message: 'x', driverError: { code: '57P01', message: 'terminating connection due to administrator command' } })).toBe(true);
    expect(isDatabaseUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnreachable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });

  it('a provider that refuses connections is the item\'s failure, not the database\'s, though its cause says ECONNREFUSED', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4461'), { code: 'ECONNREFUSED' });
    const sdkError = Object.assign(new Error('Connection error.'), { cause: Object.assign(new TypeError('fetch failed'), { cause: refused }) });
    const failure = toLlmFailure(sdkError, 'anthropic', 'claude-sonnet-4-6');
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(isDatabaseUnreachable(failure)).toBe(false);
    expect(waitReason(failure)).toBeUndefined();
  });

  it('rate limits are waited out unless already final', () => {
    expect(waitReason(ApplicationFailure.create({ type: LlmFailureType.RateLimited, message: '429' }))).toBe('rate_limited');
    expect(waitReason(ApplicationFailure.create({ type: LlmFailureType.Overloaded, message: '529' }))).toBe('rate_limited');
    expect(waitReason(ApplicationFailure.create({ type: LlmFailureType.RateLimited, message: 'deadline', nonRetryable: true }))).toBeUndefined();
    expect(waitReason(ApplicationFailure.create({ type: LlmFailureType.Transient, message: '500' }))).toBeUndefined();
  });
});

/** A DataSource whose INSERT fails with `failures` errors first, then stores the rows. */
function flakyDb(failures: Error[]) {
  const stored: unknown[][] = [];
  let tries = 0;
  const execute = (rows: unknown[]) => async () => {
    tries++;
    const err = failures.shift();
    if (err) throw err;
    stored.push(rows);
  };
  const db = {
    createQueryBuilder: () => ({
      insert: () => ({ into: () => ({ values: (rows: unknown[]) => ({ orIgnore: () => ({ updateEntity: () => ({ execute: execute(rows) }) }) }) }) }),
    }),
  } as unknown as DataSource;
  return { db, stored, tries: () => tries };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const row = (callKey: string): LlmCallRecord => ({
  purpose: 'summary', provider: 'anthropic', model: 'm', promptVersion: 'v', workflowId: 'w', runId: 'r', activityId: '1', activityType: 'summarizeScene',
  attempt: 1, cacheKey: 'k', callKey, outcome: 'error', errorType: LlmFailureType.Timeout, latencyMs: 1, inputTokens: 0, outputTokens: 0,
});

describe('call log while the database is away', () => {
  it('a row recorded while Postgres is unreachable is written once it is back, not dropped', async () => {
    const f = flakyDb([refused(), refused(), refused()]);
    const log = new BufferedCallLog(f.db, { lingerMs: 1, retryDelayMs: 5, onError: () => undefined });
    await expect(log.record(row('a'))).resolves.toBeUndefined();
    expect(f.tries()).toBe(4);
    expect(f.stored).toHaveLength(1);
    expect((f.stored[0][0] as { callKey: string }).callKey).toBe('a');
  });

  it('other write errors, and an outage longer than the budget, still fail the write', async () => {
    const bad = flakyDb([Object.assign(new Error('duplicate key'), { code: '23505' })]);
    await expect(new BufferedCallLog(bad.db, { lingerMs: 1, retryDelayMs: 5, onError: () => undefined }).record(row('b'))).rejects.toThrow('duplicate key');
    expect(bad.tries()).toBe(1);
    const away = flakyDb(Array.from({ length: 100 }, refused));
    await expect(new BufferedCallLog(away.db, { lingerMs: 1, retryDelayMs: 5, unreachableBudgetMs: 30, onError: () => undefined }).record(row('c'))).rejects.toThrow('ECONNREFUSED');
    expect(away.stored).toHaveLength(0);
  });

  it('a failed call goes on with its own error while its row waits for the database', async () => {
    const provider: ChatProvider = {
      provider: 'anthropic',
      chat: async () => {
        throw Object.assign(new Error('upstream broke'), { status: 500 });
      },
    };
    const recorded: LlmCallRecord[] = [];
    let landed: () => void = () => undefined;
    // The row's write never finishes while the test looks (a database that is away).
    const callLog: CallLog = {
      record: (r) => {
        recorded.push(r);
        return new Promise<void>((resolve) => (landed = resolve));
      },
      flush: async () => undefined,
    };
    const llm = new LlmService({ registry: new ProviderRegistry().registerChat(provider), cache: new MemoryCacheStore(), callLog, requestTimeoutMs: 1000 });
    const call = { purpose: 'summary', provider: 'anthropic' as const, model: 'm', promptVersion: 'v', request: { messages: [{ role: 'user' as const, content: 'x' }], maxTokens: 5 }, useCache: false };
    await expect(llm.chat(call)).rejects.toMatchObject({ type: LlmFailureType.Transient });
    expect(recorded).toEqual([expect.objectContaining({ outcome: 'error', errorType: LlmFailureType.Transient })]);
    landed();
  });

  it('during an outage only a caller whose run pauses itself (ingestion) gets LlmProviderUnavailable; the others keep their failure and retries', async () => {
    const provider: ChatProvider = {
      provider: 'anthropic',
      chat: async () => {
        throw Object.assign(new Error('upstream broke'), { status: 500 });
      },
    };
    const callLog: CallLog = { record: async () => undefined, flush: async () => undefined };
    const outages = new OutageDetector({ window: 4, minFailures: 2, minItems: 1 });
    const llm = new LlmService({ registry: new ProviderRegistry().registerChat(provider), cache: new MemoryCacheStore(), callLog, requestTimeoutMs: 1000, outages });
    const call = { purpose: 'synthesis', provider: 'anthropic' as const, model: 'm', promptVersion: 'v', request: { messages: [{ role: 'user' as const, content: 'x' }], maxTokens: 5 }, useCache: false };
    for (const activityId of ['1', '2', '3']) {
      const failure = await llm.chat(call, { workflowId: 'stories-x', activityId }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ type: LlmFailureType.Transient, nonRetryable: false });
    }
    expect(outages.current('anthropic')).toBeDefined();
    const paused = await llm.chat(call, { workflowId: 'ingest-x', activityId: '4', pausesOnOutage: true }).catch((e: unknown) => e);
    expect(paused).toMatchObject({ type: LlmFailureType.ProviderUnavailable, nonRetryable: true });
  });

  it('a rate limit without retry-after: a turn a person waits for backs off as the SDKs do (0.5 s to 8 s), background work 1 s to 30 s', async () => {
    expect([0, 1, 2, 3, 4, 5, 6, 9].map((w) => rateLimitBackoffMs(w, true))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
    expect([0, 1, 2, 3, 4, 5, 6, 9].map((w) => rateLimitBackoffMs(w))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    // Through the service: the wait it takes for a 429 that names none.
    let answered = 0;
    const provider: ChatProvider = {
      provider: 'anthropic',
      chat: async () => {
        if (answered++ === 0) throw Object.assign(new Error('slow down'), { status: 429 });
        return { text: 'ok', usage: { inputTokens: 1, outputTokens: 1 }, model: 'm', stopReason: 'end_turn' };
      },
    };
    const waits: number[] = [];
    const callLog: CallLog = { record: async () => undefined, flush: async () => undefined };
    const llm = new LlmService({
      registry: new ProviderRegistry().registerChat(provider),
      cache: new MemoryCacheStore(),
      callLog,
      requestTimeoutMs: 1000,
      onRateLimitWait: (w) => waits.push(w.waitMs),
    });
    const call = { purpose: 'session', provider: 'anthropic' as const, model: 'm', promptVersion: 'v', request: { messages: [{ role: 'user' as const, content: 'x' }], maxTokens: 5 }, useCache: false };
    const far = Date.now() + 60_000;
    await llm.chat(call, { interactive: true, attemptEndsAt: far, runDeadlineAt: far });
    expect(waits).toEqual([500]);
  });
});
