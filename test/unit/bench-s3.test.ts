/** Bench S3: its CPU floor is the run's alone, its bound is the script's work, and its row is the run its verdict is about. */
import { outlineCallsFor } from '../../bench/bounds';
import { parseText, type BenchApp, type BenchEnv } from '../../bench/env';
import { judgedRun, measureWithCpu, s3Bound, S3_TIME_SCALE } from '../../bench/scenarios/s3';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';

/** An env and app that only record what measureIngest asks of them, in order. */
function fakes(order: string[]): { env: BenchEnv; app: BenchApp } {
  const route = { busyMs: 0, errors: {} };
  const stats = { totalRequests: 0, ok: 0, rateLimited: 0, byPurpose: {}, byProvider: { anthropic: route, openai: route }, peakConcurrent: 0 };
  const handle = {
    describe: async () => {
      order.push('history');
      return { historyLength: 10_838, historySize: 1, status: { name: 'COMPLETED' } };
    },
    fetchHistory: async () => {
      order.push('history');
      return { events: [] };
    },
  };
  const env = {
    pgCounter: { counts: () => ({ statements: 0, commits: 0, connections: 0 }) },
    client: {
      workflow: {
        start: async () => {
          order.push('start');
          return {
            firstExecutionRunId: 'run-1',
            result: async () => {
              order.push('result');
              return { status: 'completed' };
            },
            terminate: async () => undefined,
          };
        },
        getHandle: () => handle,
      },
    },
  };
  const app = {
    taskQueue: 'q',
    services: {
      flushRecorders: async () => {
        order.push('flush');
      },
      llm: { settle: async () => undefined },
      db: {
        query: async () => {
          order.push('db');
          return [{ t: null }];
        },
      },
    },
    sim: { stats: () => stats, latencies: () => [] },
  };
  return { env: env as unknown as BenchEnv, app: app as unknown as BenchApp };
}

describe('S3 CPU', () => {
  it('is sampled at the run\'s edges: after the window\'s start flush, and when the result arrives, before the end flush and the history is read', async () => {
    const order: string[] = [];
    const { env, app } = fakes(order);
    let n = 0;
    const { m, cpuBefore, cpuAfter } = await measureWithCpu(env, app, { scriptId: 's', mode: 'full' }, () => {
      order.push('cpu');
      return ++n;
    });
    expect(order).toEqual(['flush', 'cpu', 'start', 'result', 'cpu', 'flush', 'history', 'history', 'db']);
    expect(order.lastIndexOf('cpu')).toBeLessThan(order.indexOf('history'));
    expect({ cpuBefore, cpuAfter }).toEqual({ cpuBefore: 1, cpuAfter: 2 });
    expect(m.chain.totalEvents).toBe(10_838);
  });
});

describe('S3 bound', () => {
  // Every defined call drawn, so nothing is filled with the mean.
  const work = { summaries: 2, sheets: 1, embeddings: 2 };
  const draws = (outline: number) => [
    { purpose: 'summary', ms: 100 },
    { purpose: 'summary', ms: 100 },
    { purpose: 'sheet', ms: 100 },
    { purpose: 'embedding', ms: 100 },
    ...Array.from({ length: outline }, () => ({ purpose: 'outline', ms: 1000 })),
  ];

  it('counts only the outline calls the script needs: nine drawn with 3 expected do not raise it', () => {
    const nine = s3Bound(work, 3, draws(9));
    const three = s3Bound(work, 3, draws(3));
    expect(nine.work.outline).toBe(3);
    expect(nine.bound.ms).toBe(three.bound.ms);
    expect(nine.bound.ms).toBe(100 + 3000); // summaries, then the 3 outline calls one after another (over the sheet and the embedding request)
    expect(nine.bound.missing.outline).toBe(0);
  });

  it('fills expected outline calls the app never made with the mean, and names them', () => {
    const b = s3Bound(work, 3, draws(1)).bound;
    expect(b.missing.outline).toBe(2);
    expect(b.ms).toBe(100 + 1000 + 2 * 5000 * S3_TIME_SCALE);
  });

  it('takes the outline calls from the script as the app defines sections: one call when the summaries fit, else a call per section and one over them', async () => {
    const route = { provider: 'anthropic' as const, model: 'claude-sonnet-4-6' };
    const script = (scenes: number, characters: number) => {
      const title = `S3 ${scenes} scenes test run 1`;
      return parseText(syntheticScreenplay({ title, scenes, characters, salt: title })).scenes;
    };
    const s3 = script(2000, 60);
    // 2,000 summaries exceed the default 100,000-token outline context: 2 sections, then one call over them (3, as S3's runs made).
    expect(await outlineCallsFor(s3, route, 100_000)).toBe(3);
    expect(await outlineCallsFor(s3, route, 1_000_000)).toBe(1);
    expect(await outlineCallsFor(script(100, 10), route, 100_000)).toBe(1);
  });
});

describe('S3 verdict run', () => {
  const runs = (ratios: number[]) => ratios.map((ratio, i) => ({ run: i + 1, ratio }));

  it('is the median run for an odd count', () => {
    expect(judgedRun(runs([1.6, 1.35, 1.48]))).toEqual({ run: 3, ratio: 1.48 });
  });

  it('is the upper of the middle two for an even count, so the row shows the run the verdict is about', () => {
    // Lower middle 1.45 (✅), mean of the middle two 1.50 (✅): neither is the upper middle run, 1.55 (❌).
    const judged = judgedRun(runs([1.4, 1.6, 1.45, 1.55]));
    expect(judged).toEqual({ run: 4, ratio: 1.55 });
    expect(judged.ratio <= 1.5).toBe(false);
    expect(() => judgedRun([])).toThrow('no runs');
  });
});
