/**
 * Logs, metrics, per-run DB statistics and tracing on real parts: the simulator over HTTP, a
 * Temporal dev server, the run's Postgres database and the app's workers.
 */
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import type { LlmCallRecord } from '../../src/llm/call-log';
import { LoggingCallLog } from '../../src/observability/llm-call-observers';
import { createLogger, type Logger } from '../../src/observability/logger';
import { temporalLoggerOver } from '../../src/observability/temporal-logger';
import { QueryFailedError } from 'typeorm';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server';
import { runInActivityScope } from '../../src/observability/activity-scope';
import { commitsOnItsOwn, readRunDbStats, sumRunDbStats } from '../../src/observability/run-db-stats';
import { installRuntime, type InstalledRuntime } from '../../src/observability/temporal-runtime';
import { clientInterceptors, tracingFor } from '../../src/observability/tracing';
import { dataConverterFor } from '../../src/security/data-converter';
import { createServices, createWorkers, type AppServices } from '../../src/runtime';
import { smokeTest } from '../../src/workflows';
import { queueFor, startApp, startTestTemporal, testConfig, type RunningApp } from '../helpers/harness';

const SECRET_KEY = 'sk-ant-test-SECRET-12345';
const PROMPT_MARKER = 'PROMPT-TEXT-MARKER-7f3a';

/** Every line the app's loggers wrote, parsed. */
const lines: Record<string, unknown>[] = [];
const rawLines: string[] = [];
const sink = {
  write(line: string) {
    rawLines.push(line);
    lines.push(JSON.parse(line) as Record<string, unknown>);
  },
};
/** The Runtime's (SDK lines at info); the app's services log at debug, where the per-call lines are. */
let logger: Logger;
let appLogger: Logger;
let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let app: RunningApp;
let runtime: InstalledRuntime;
let metricsServer: MetricsServer;

beforeAll(async () => {
  logger = createLogger('info', sink);
  appLogger = createLogger('debug', sink);
  sim = await startSimulator();
  const metricsPort = await freePortPair();
  const config = testConfig(sim, { ANTHROPIC_API_KEY: SECRET_KEY, LOG_LEVEL: 'info', STORYLOOM_METRICS_PORT: String(metricsPort) });
  // Before the test server: the Runtime is configured once, when first created.
  runtime = installRuntime(config, logger);
  env = await startTestTemporal();
  app = await startApp(env, config, 'observability', { logger: appLogger });
  metricsServer = await startMetricsServer(metricsPort, app.services.metrics.registry, {
    host: '127.0.0.1',
    temporalMetricsUrl: runtime.temporalMetricsUrl,
  });
});
afterAll(async () => {
  await metricsServer?.close();
  await app?.stop();
  await sim?.close();
  await env?.teardown();
});

describe('one smoke run', () => {
  let workflowId: string;
  let runId: string;
  let metricsText: string;

  beforeAll(async () => {
    sim.resetStats();
    workflowId = `obs-smoke-${Date.now()}`;
    const handle = await env.client.workflow.start(smokeTest, {
      taskQueue: app.taskQueue,
      workflowId,
      args: [{ prompt: `${PROMPT_MARKER}: a keeper and ${workflowId}.`, useCache: true }],
    });
    runId = handle.firstExecutionRunId;
    await handle.result();
    metricsText = await (await fetch(metricsServer.url)).text();
  });

  it('serves LLM latency, tokens and cache use on /metrics, matching what the provider counted', () => {
    expect(metricsText).toMatch(/^storyloom_llm_call_duration_seconds_bucket\{[^}]*purpose="smoke"[^}]*outcome="ok"[^}]*\} 1$/m);
    const smoke = sim.stats().byPurpose.smoke;
    expect(smoke.inputTokens).toBeGreaterThan(0);
    expect(sample(metricsText, 'storyloom_llm_tokens_total', { purpose: 'smoke', direction: 'input' })).toBe(smoke.inputTokens);
    expect(sample(metricsText, 'storyloom_llm_tokens_total', { purpose: 'smoke', direction: 'output' })).toBe(smoke.outputTokens);
    expect(sample(metricsText, 'storyloom_llm_cache_total', { purpose: 'smoke', result: 'miss' })).toBe(1);
    expect(metricsText).toContain('# TYPE storyloom_llm_errors_total counter');
    expect(sample(metricsText, 'storyloom_activities_in_flight', { activity_type: 'chatCompletion' })).toBe(0);
    expect(metricsText).toContain('process_cpu_user_seconds_total');
  });

  it("appends the Temporal SDK's own worker metrics to the same scrape", () => {
    expect(runtime.installed).toBe(true);
    expect(metricsText).toMatch(/^temporal_\w+/m);
  });

  it('logs each LLM call once at debug with the activity identity, and never the key or the prompt', () => {
    const call = lines.filter((l) => l.event === 'llm_call' && l.workflowId === workflowId);
    expect(call).toHaveLength(1);
    expect(call[0]).toMatchObject({
      level: 'debug',
      purpose: 'smoke',
      provider: 'anthropic',
      outcome: 'ok',
      runId,
      activityType: 'chatCompletion',
      attempt: 1,
    });
    expect(call[0].activityId).toEqual(expect.any(String));
    expect(call[0].inputTokens).toBe(sim.stats().byPurpose.smoke.inputTokens);
    for (const raw of rawLines) {
      expect(raw).not.toContain(SECRET_KEY);
      expect(raw).not.toContain(PROMPT_MARKER);
    }
  });

  it('writes no line per LLM call at info, successful or failed', () => {
    const infoLines: string[] = [];
    const callLog = new LoggingCallLog(createLogger('info', { write: (line: string) => void infoLines.push(line) }));
    const row = { purpose: 'summary', provider: 'anthropic', model: 'm', promptVersion: 'v1', latencyMs: 5, inputTokens: 1, outputTokens: 1 } as const;
    callLog.record({ ...row, outcome: 'ok' } as LlmCallRecord);
    callLog.record({ ...row, outcome: 'error', errorType: 'LlmRateLimited' } as LlmCallRecord);
    expect(infoLines).toEqual([]);
  });

  it("routes the Temporal SDK's own log lines into the same JSON stream", () => {
    expect(lines.some((l) => l.sdkComponent === 'worker' && typeof l.msg === 'string')).toBe(true);
  });

  it('counts the run’s database statements and commits in run_db_stats', async () => {
    await app.services.dbStats.flush();
    const rows = await readRunDbStats(app.services.db, [workflowId]);
    expect(rows.map((r) => r.runId)).toEqual([runId]);
    const total = sumRunDbStats(rows);
    // Cache lookup + cache insert + smoke_results upsert, at least.
    expect(total.queries).toBeGreaterThanOrEqual(3);
    expect(total.commits).toBeGreaterThanOrEqual(1);
  });
});

describe('errors in logs', () => {
  const SCENE = 'SECRET SCENE';
  /** A failed INSERT as TypeORM reports it: pg's error (detail and where quote the row) inside QueryFailedError. */
  const dbError = () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "scenes_pkey"'), {
      code: '23505',
      detail: `Key (text)=(${SCENE}) already exists.`,
      where: `SQL function "f" statement 1: ${SCENE}`,
      constraint: 'scenes_pkey',
    });
    return new QueryFailedError('INSERT INTO scenes (text) VALUES ($1)', [SCENE], pgError);
  };
  const capture = () => {
    const out: string[] = [];
    return { out, logger: createLogger('info', { write: (line: string) => void out.push(line) }) };
  };

  it("keep a database error's parameters, statement and quoted rows out of the SDK's \"Activity failed\" line", () => {
    const { out, logger } = capture();
    temporalLoggerOver(logger).warn('Activity failed', { error: dbError() });
    expect(out).toHaveLength(1);
    expect(out[0]).not.toContain(SCENE);
    expect(out[0]).not.toContain('INSERT INTO');
    expect(JSON.parse(out[0]).error).toMatchObject({
      type: 'QueryFailedError',
      message: 'duplicate key value violates unique constraint "scenes_pkey"',
      code: '23505',
      stack: expect.stringContaining('QueryFailedError'),
    });
  });

  it('keep them out of `err` fields too, and out of errors nested in an error', () => {
    const { out, logger } = capture();
    logger.warn({ err: dbError() }, 'LLM response cache write failed');
    logger.error({ err: Object.assign(new Error('request failed'), { original: dbError() }) }, 'request failed');
    logger.error({ err: new AggregateError([dbError()], 'several') }, 'several failed');
    expect(out).toHaveLength(3);
    for (const line of out) {
      expect(line).not.toContain(SCENE);
      expect(line).not.toContain('INSERT INTO');
    }
    expect(JSON.parse(out[0]).err).toMatchObject({ type: 'QueryFailedError', code: '23505', constraint: 'scenes_pkey' });
    expect(JSON.parse(out[1]).err.original).toMatchObject({ type: 'QueryFailedError', code: '23505' });
  });
});

describe('quiet at info', () => {
  it("writes no line for a rate-limit wait or a concurrency step; one when a provider's limit first drops", async () => {
    const out: Record<string, unknown>[] = [];
    const infoLogger = createLogger('info', { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) });
    const services = await createServices(testConfig(sim, { LOG_LEVEL: 'info' }), { logger: infoLogger });
    try {
      const unique = `Rate limited once ${Date.now()}`;
      sim.configure({ faults: [{ kind: 'http429', contains: unique, times: 1, retryAfterMs: 20 }] });
      const call = {
        purpose: 'summary', provider: 'anthropic' as const, model: 'claude-haiku-4-5', promptVersion: 'test-v1',
        request: { messages: [{ role: 'user' as const, content: unique }], maxTokens: 50 }, useCache: false,
      };
      // Inside an attempt with time left, as in an activity: the call waits the 429 out and goes again.
      await services.llm.chat(call, { workflowId: 'wf-quiet-test', attemptEndsAt: Date.now() + 60_000 });
      expect(sim.stats().byRoute['anthropic.messages'].errors).toMatchObject({ http429: 1 });
      expect(out.filter((l) => String(l.msg).includes('rate limited a summary call'))).toEqual([]);

      // The first drop below the maximum is news (info); the next steps are not (debug).
      const gate = services.gates.for('openai');
      const first = await gate.acquire();
      gate.rateLimited(first);
      first.release();
      const second = await gate.acquire();
      gate.rateLimited(second);
      second.release();
      const limitLines = out.filter((l) => String(l.msg).startsWith('openai: concurrency limit now'));
      expect(limitLines).toHaveLength(1);
      expect(limitLines[0]).toMatchObject({ level: 'info', provider: 'openai', limit: 7, reason: 'rate_limited', max: 10 });
    } finally {
      sim.configure({ faults: [] });
      await services.close();
    }
  });

  it("keeps the SDK's routine start-up lines (no workflows on the provider queues, no Nexus, webpack's statistics) at debug", () => {
    // The app's workers started above, logging through the Runtime at info: one warning per
    // provider queue ("No workflows registered") and an info line per worker ("No Nexus …") before.
    const routine = /^(No workflows registered|No Nexus services registered|asset workflow-bundle-)/;
    expect(lines.filter((l) => l.sdkComponent === 'worker' && routine.test(String(l.msg)))).toEqual([]);
    expect(lines.some((l) => l.sdkComponent === 'worker' && l.msg === 'Worker state changed')).toBe(true);

    const at = (level: string) => {
      const out: Record<string, unknown>[] = [];
      const sdk = temporalLoggerOver(createLogger(level, { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) }));
      sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker' });
      sdk.info('asset workflow-bundle-0123.js 1.92 MiB [emitted]\nmodules by path ./node_modules/ 464 KiB', { sdkComponent: 'worker' });
      sdk.info('Workflow bundle created', { sdkComponent: 'worker', size: '1.92MB' });
      sdk.error('asset workflow-bundle-0123.js [errors]', { sdkComponent: 'worker' });
      return out.map((l) => [l.level, String(l.msg).split(/[,\n]/)[0]]);
    };
    expect(at('info')).toEqual([['info', 'Workflow bundle created'], ['error', 'asset workflow-bundle-0123.js [errors]']]);
    expect(at('debug')).toEqual([
      ['debug', 'No workflows registered'],
      ['debug', 'asset workflow-bundle-0123.js 1.92 MiB [emitted]'],
      ['info', 'Workflow bundle created'],
      ['error', 'asset workflow-bundle-0123.js [errors]'],
    ]);
  });
});

describe('run_db_stats counting', () => {
  const scope = (workflowId: string) => ({
    workflowId,
    runId: 'run-1',
    activityId: '1',
    activityType: 'test',
    attempt: 1,
    taskQueue: 'q',
  });

  it('counts statements and commits exactly, and the flush does not count itself', async () => {
    const { db, dbStats } = app.services;
    const workflowId = `obs-count-${Date.now()}`;
    await runInActivityScope(scope(workflowId), async () => {
      await db.query('SELECT 1'); // 1 statement, no commit
      await db.transaction(async (tx) => {
        await tx.query('SELECT 1'); // START TRANSACTION, SELECT, COMMIT: 3 statements, 1 commit
      });
      // A write outside a transaction commits on its own: 1 statement, 1 commit.
      await db.query(`UPDATE run_db_stats SET queries = queries WHERE workflow_id = 'nobody'`);
    });
    await db.query('SELECT 1'); // outside any activity: not counted
    await dbStats.flush();
    await dbStats.flush();
    await dbStats.flush();
    expect(sumRunDbStats(await readRunDbStats(db, [workflowId]))).toEqual({ queries: 5, commits: 2 });

    // A second flush adds to the stored counts (upsert), and runIds narrow to one chain.
    await runInActivityScope(scope(workflowId), () => db.query('SELECT 1'));
    await dbStats.flush();
    expect(sumRunDbStats(await readRunDbStats(db, [workflowId], ['run-1']))).toEqual({ queries: 6, commits: 2 });
    expect(await readRunDbStats(db, [workflowId], ['another-run'])).toEqual([]);
  });

  it('knows which statements commit', () => {
    expect(commitsOnItsOwn('COMMIT', true)).toBe(true);
    expect(commitsOnItsOwn('INSERT INTO t VALUES (1)', true)).toBe(false);
    expect(commitsOnItsOwn('  insert into t values (1)', false)).toBe(true);
    expect(commitsOnItsOwn('SELECT 1', false)).toBe(false);
    expect(commitsOnItsOwn('START TRANSACTION', true)).toBe(false);
    expect(commitsOnItsOwn('WITH x AS (SELECT 1) SELECT * FROM x', false)).toBe(false);
    expect(commitsOnItsOwn('WITH x AS (SELECT 1) UPDATE t SET a = 1', false)).toBe(true);
  });
});

describe('tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
  it('is off by default: no tracing, no client interceptors', () => {
    expect(tracingFor(app.config)).toBeUndefined();
    expect(clientInterceptors(app.config)).toEqual({});
  });

  it('exports one trace from workflow start through the activity to the LLM call', async () => {
    const collector = await startFakeCollector();
    const config = testConfig(sim, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
    const taskQueue = queueFor('observability-tracing');
    let services: AppServices | undefined;
    let running: Promise<unknown> | undefined;
    const workersToStop: { shutdown(): void; getState(): string }[] = [];
    try {
      services = await createServices({ ...config, temporal: { ...config.temporal, taskQueue } }, { logger });
      // No pre-built bundle: the worker bundles the workflows with the tracing interceptors.
      const workers = await createWorkers({ connection: env.nativeConnection, services, taskQueue });
      workersToStop.push(...workers);
      running = Promise.all(workers.map((w) => w.run()));
      const client = new Client({ connection: env.connection, interceptors: clientInterceptors(config), dataConverter: dataConverterFor(config) });
      await client.workflow.execute(smokeTest, {
        taskQueue,
        workflowId: `obs-trace-${Date.now()}`,
        args: [{ prompt: 'A traced keeper.', useCache: false }],
      });
    } finally {
      for (const w of workersToStop) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await services?.close();
      await tracingFor(config)?.shutdown();
      await collector.close();
    }
    const spans = collector.spans();
    const byName = (name: string) => spans.find((s) => s.name === name);
    const start = byName('StartWorkflow:smokeTest');
    const activity = byName('RunActivity:chatCompletion');
    const llm = byName('llm smoke');
    expect(start).toBeDefined();
    expect(activity).toBeDefined();
    expect(llm).toBeDefined();
    expect(llm!.parentSpanId).toBe(activity!.spanId);
    expect(new Set([start!.traceId, activity!.traceId, llm!.traceId]).size).toBe(1);
  });
});

/** The value of one Prometheus sample whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** A port p with p + 1 free too (Core serves its metrics on metrics port + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await listenOnce(0);
    if (port < 65535 && (await listenOnce(port + 1).then(() => true, () => false))) return port;
  }
  throw new Error('no free port pair');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** An OTLP/HTTP collector that keeps the spans it is sent (JSON encoding, as the exporter sends). */
async function startFakeCollector(): Promise<{ url: string; spans(): ExportedSpan[]; close(): Promise<void> }> {
  const received: ExportedSpan[] = [];
  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => {
        if (req.url === '/v1/traces') {
          const payload = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[] };
          for (const rs of payload.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) received.push(...(ss.spans ?? []));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      })
      // A body the collector cannot read is the exporter's bug: answer it instead of leaving it waiting.
      .catch((err: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
