/**
 * `npm run chaos [-- --time-scale X --only a,b --scenes N --keep-database]`: the fault matrix.
 * Starts its own dev server, database, Postgres proxy, simulator and worker processes (see
 * stack.ts), runs every case of cases.ts on its own synthetic script, judges each from the
 * database, the simulator and the histories, searches every trace the run left for the provider
 * keys and a line of dialogue, and writes bench/results/chaos-latest.md and a dated JSON.
 * Not a test: a report. Loopback only; `--time-scale` scales the simulated provider latency and
 * the provider fault windows (outages stay in real seconds: they are measured against real retry budgets).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ScriptRepository } from '../../src/db/repositories/script.repository';
import { parseScreenplay } from '../../src/domain/screenplay';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY, DEFAULT_FLAGS, ingestionWorkflowId, type IngestionFailure, type IngestionProgress, type IngestionResult } from '../../src/shared/ingestion';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { ingestScript, progressQuery } from '../../src/workflows';
import { freePort } from '../temporal-server';
import type { ChaosApi } from './api-process';
import { CASES, type CaseCtx, type ChaosCase, type FaultRecord } from './cases';
import { awaitCaseRun, checkDb, recoveryMs, runResultOutcome, simCalls, sleep, sum, type DbCheck } from './measure';
import { searchSecrets, type SecretsReport } from './secrets';
import { startChaosStack, type ChaosStack } from './stack';
import { runScreenplayRun } from './screenplay-case';
import { runSessionRun } from './session-case';
import { runStoriesRun } from './stories-case';
import { rateLimitBound, type RateLimitBound } from './rate-bound';
import { writeChaosReport } from './report';

export interface CaseResult {
  id: string;
  title: string;
  expect: ChaosCase['expect'];
  notApplicable?: string;
  workflowId?: string;
  /** What the case found besides the fault (screenplay and session cases: rows, Updates). */
  note?: string;
  /** A check of the case's own that failed (stories chains: the run did not continue as new). */
  miss?: string;
  status?: string;
  error?: string;
  wallMs?: number;
  db?: DbCheck;
  itemsLost?: number;
  requests?: number;
  paid?: number;
  providerErrors?: Record<string, number>;
  /** Requests beyond the baseline run's (same script size). */
  repeated?: number;
  fault?: FaultRecord;
  /** ms from the repair to the next item done (or to the run's end). */
  recoveryMs?: number;
  /** Provider requests with no llm_calls row, calls killed in flight aside. */
  missingFromCallLog?: number;
  /** Requests in flight at a worker kill, which no process could log (they are the calls the run repeats). */
  unloggedInFlight?: number;
  /**
   * After a worker SIGKILL: the LLM activities it cut short — their call open at the simulator,
   * answered but not yet reported, or not sent yet — counted from the call keys (activities whose
   * attempt on the killed worker left no row), at least the requests open at the kill. A kill
   * should repeat at most one call per such activity.
   */
  killedInFlight?: number;
  /** Answers the provider finished (billed) that the log holds without their tokens: timed out on our side, or not logged at all. */
  billedWithoutTokens?: number;
  /** 429 storms: what the provider's answers permit (rate-bound.ts) and the wall time against it. */
  rateBound?: RateLimitBound & { ratio: number; target?: number };
  neededHuman?: 0 | 1;
  pass?: boolean;
  verdict?: string;
}

interface Options {
  timeScale: number;
  only?: string[];
  scenes: number;
  keepDatabase: boolean;
  /** Re-judges and re-renders a run's JSON instead of running (after a change to the judging). */
  fromJson?: string;
  /** The report's file name in bench/results (default chaos-latest). */
  name: string;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { timeScale: 1, scenes: 120, keepDatabase: false, name: 'chaos-latest' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--time-scale') opts.timeScale = Number(value());
    else if (arg === '--only') opts.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (arg === '--scenes') opts.scenes = Number(value());
    else if (arg === '--keep-database') opts.keepDatabase = true;
    else if (arg === '--from-json') opts.fromJson = value();
    else if (arg === '--name') opts.name = value();
    else if (arg === '--list') {
      for (const c of CASES) console.log(`${c.id.padEnd(24)} ${c.title}`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (options: --time-scale X, --only id,id, --scenes N, --keep-database, --name NAME, --from-json FILE, --list)`);
  }
  if (!/^[a-z0-9-]+$/.test(opts.name)) throw new Error('--name: lowercase letters, digits and dashes');
  if (!(opts.timeScale > 0 && opts.timeScale <= 10)) throw new Error('--time-scale must be a number in (0, 10]');
  if (!Number.isInteger(opts.scenes) || opts.scenes < 100 || opts.scenes > 2000) throw new Error('--scenes must be an integer from 100 to 2000');
  const unknown = opts.only?.filter((id) => !CASES.some((c) => c.id === id));
  if (unknown?.length) throw new Error(`--only: unknown case(s) ${unknown.join(', ')} (see --list)`);
  return opts;
}

const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const CHARACTERS = 8;

/** The fault-free reference run of a case's job: its requests are what the case's are compared with. */
const baselineId = (c: ChaosCase) => c.baseline ?? (c.job && c.job !== 'ingest' ? `${c.job}-baseline` : 'baseline');

async function runCase(stack: ChaosStack, c: ChaosCase, opts: Options, runTag: string, baseline: CaseResult | undefined): Promise<CaseResult> {
  const out: CaseResult = { id: c.id, title: c.title, expect: c.expect };
  if (c.notApplicable) return { ...out, notApplicable: c.notApplicable };
  if (c.job === 'stories' || c.job === 'stories-chain') {
    const dayIndex = CASES.indexOf(c);
    return judgeCase(stack, c, await runStoriesRun(stack, c, opts, runTag, dayIndex, log), baseline);
  }
  if (c.job === 'screenplay') return judgeCase(stack, c, await runScreenplayRun(stack, c, opts, runTag, log), baseline);
  if (c.job === 'session') return judgeCase(stack, c, await runSessionRun(stack, c, opts, runTag, log), baseline);
  const title = `chaos ${c.id} ${runTag}`;
  const text = syntheticScreenplay({ title, scenes: opts.scenes, characters: CHARACTERS, salt: `${c.id}-${runTag}` });
  const imported = await new ScriptRepository(stack.db).importScreenplay(parseScreenplay(Buffer.from(text), 'chaos.fountain'), {
    title,
    sourceName: 'chaos.fountain',
  });
  const taskQueue = `chaos-${c.id}-${runTag}`;
  const workerEnv = { ...c.workerEnv, ...(c.workerEntry ? { STORYLOOM_METRICS_PORT: String(await freePort()) } : {}) };
  const workers = [await stack.startWorker(taskQueue, workerEnv, { entry: c.workerEntry })];
  stack.sim.resetStats();
  stack.sim.configure({ faults: [], ...c.sim?.({ timeScale: opts.timeScale, keys: stack.keys }) });

  // `viaApi`: the case's own `storyloom serve` starts the ingestion (POST /api/scripts/:id/ingestions).
  let api: (ChaosApi & { logFile: string }) | undefined;
  const apiPort = c.viaApi ? await freePort() : 0;
  if (c.viaApi) api = await stack.startApi(taskQueue, apiPort);
  const started = Date.now();
  const now = () => Date.now() - started;
  let handle: WorkflowHandle<typeof ingestScript>;
  let workflowId: string;
  if (api) {
    const res = await fetch(`${api.url}/api/scripts/${imported.scriptId}/ingestions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'full' }),
    });
    const body = (await res.json()) as { workflowId?: string; message?: string };
    if (res.status !== 202 || !body.workflowId) throw new Error(`POST /api/scripts/:id/ingestions answered ${res.status}: ${JSON.stringify(body)}`);
    workflowId = body.workflowId;
    handle = stack.client.workflow.getHandle<typeof ingestScript>(workflowId);
  } else {
    workflowId = ingestionWorkflowId(imported.scriptId);
    handle = await stack.client.workflow.start(ingestScript, {
      taskQueue,
      workflowId,
      args: [{ scriptId: imported.scriptId, mode: 'full', flags: DEFAULT_FLAGS, concurrency: DEFAULT_CONCURRENCY, ...(c.scenesPerRun ? { scenesPerRun: c.scenesPerRun } : {}) }],
      typedSearchAttributes: storyloomSearchAttributes('ingest', title, 'running'),
    });
  }
  out.workflowId = workflowId;
  let signalRunEnded = () => {};
  const runEnded = new Promise<void>((resolve) => (signalRunEnded = resolve));

  // Progress samples: what waitFor watches and what recovery is measured on.
  const samples: { t: number; done: number; progress: IngestionProgress }[] = [];
  const watchers: { pred: (p: IngestionProgress) => boolean; resolve: (p: IngestionProgress) => void }[] = [];
  let finished = false;
  const poller = (async () => {
    while (!finished) {
      try {
        const progress = await stack.client.withDeadline(Date.now() + 3000, () => handle.query(progressQuery));
        const done = Object.values(progress.phases).reduce((a, p) => a + p.done + p.failed + p.reused, 0);
        samples.push({ t: now(), done, progress });
        for (const w of [...watchers]) {
          if (!w.pred(progress)) continue;
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve(progress);
        }
      } catch {
        // No worker or no server for the moment: the next poll tries again.
      }
      await sleep(300);
    }
  })();
  const ctx: CaseCtx = {
    stack,
    timeScale: opts.timeScale,
    taskQueue,
    workers,
    workerEnv,
    workerEntry: Boolean(c.workerEntry),
    now,
    waitFor: (pred, what) =>
      new Promise((resolve) => {
        log(`  ${c.id}: waiting for ${what}`);
        watchers.push({ pred, resolve });
      }),
    sleep,
    log,
    runEnded,
    ...(api
      ? {
          api: {
            url: api.url,
            token: stack.apiToken,
            workflowId,
            kill: async () => {
              await api?.kill();
            },
            restart: async () => {
              api = await stack.startApi(taskQueue, apiPort, {}, api?.logFile);
            },
          },
        }
      : {}),
  };

  const baselineMs = baseline?.wallMs ?? 60_000 * opts.timeScale;
  const deadlineMs = Math.max(180_000, 5 * baselineMs) + (c.extraDeadlineMs?.(opts.timeScale) ?? 0);
  const injected = c.inject ? c.inject(ctx).catch((err: unknown) => ({ error: err as Error })) : Promise.resolve(undefined);
  const result = await awaitCaseRun<IngestionResult>(handle, deadlineMs, out, runResultOutcome<IngestionFailure>((f) => `${f.phase} ${f.item}: ${f.errorType}`), () => {
    const last = samples.at(-1)?.progress;
    return {
      status: last?.paused ? 'paused at the deadline' : `not finished in ${Math.round(deadlineMs / 1000)} s`,
      ...(last ? { error: `at the deadline: ${last.phase}, summaries ${last.phases.summaries.done}/${last.phases.summaries.total}` } : {}),
    };
  });
  out.wallMs = now();
  finished = true;
  signalRunEnded();
  for (const w of watchers) w.resolve(samples.at(-1)?.progress as IngestionProgress);
  const fault = await injected;
  await poller;
  stack.proxy.onClientData = undefined;
  await stack.proxy.restore();
  if (fault && 'error' in fault) out.error = `${out.error ?? ''} (fault injection failed: ${fault.error.message})`.trim();
  else if (fault) {
    out.fault = fault;
    out.recoveryMs = fault.recoveryMs ?? recoveryMs(samples, fault.restoredAt, out.wallMs);
  }
  await api?.stop();

  // Workers stop cleanly (their call-log buffer is written), then the checks.
  for (const w of workers) await w.stop().catch(() => undefined);
  out.db = await checkDb(stack.db, imported.scriptId, workflowId);
  if (c.scenesPerRun) {
    // A chain: each run summarised its own scenes (none twice), so the runs that made summaries are the chain's.
    const [made] = await stack.db.query("SELECT count(DISTINCT run_id) AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'summary'", [workflowId]);
    const expected = Math.ceil(opts.scenes / c.scenesPerRun);
    out.note = `summaries made in ${made.n} run(s)`;
    if (Number(made.n) !== expected) out.miss = `summaries made in ${made.n} run(s), not ${expected}`;
  }
  const missing = out.db.missing;
  out.itemsLost = missing.summaries + missing.embeddings + missing.sheets + missing.outline;
  if (c.rateBound) {
    const bound = await rateLimitBound(stack.db, workflowId, { retryAfterMs: c.rateBound.retryAfterMs(opts.timeScale), scenes: opts.scenes, characters: CHARACTERS, timeScale: opts.timeScale });
    out.rateBound = { ...bound, ratio: out.wallMs / bound.boundMs, ...(c.rateBound.target ? { target: c.rateBound.target } : {}) };
  }
  return judgeCase(stack, c, out, baseline);
}

/** The simulator's side of a finished case (its workers stopped, `out.db` filled), the call-log gaps and the verdict. */
function judgeCase(stack: ChaosStack, c: ChaosCase, out: CaseResult, baseline: CaseResult | undefined): CaseResult {
  const stats = stack.sim.stats();
  stack.sim.configure({ faults: [], apiKeys: { anthropic: stack.keys.anthropic, openai: stack.keys.openai } });
  const sim = simCalls(stats);
  out.requests = sum(sim.requests);
  out.paid = sum(sim.paid);
  out.providerErrors = sim.errors;
  Object.assign(out, callLogGaps(out));
  if (baseline?.requests !== undefined && c.id !== baselineId(c)) out.repeated = out.requests - baseline.requests;
  const completed = out.status === 'completed';
  out.neededHuman = completed ? 0 : 1;
  out.pass = judge(out, c, baseline);
  log(`  ${c.id}: ${out.status} in ${((out.wallMs ?? 0) / 1000).toFixed(1)} s, lost ${out.itemsLost}, duplicated ${out.db?.duplicated}, ` +
    `requests ${out.requests}, missing from call log ${out.missingFromCallLog}${out.pass ? '' : `: MISS (${out.verdict})`}`);
  return out;
}

/**
 * The call log against the simulator: every request should have its llm_calls row (cache hits
 * make none), except those in flight at a worker SIGKILL — the simulator, like a provider, sees a
 * half-closed connection, finishes and bills the answer, but the process that would log it is gone.
 */
export function callLogGaps(r: CaseResult): Pick<CaseResult, 'missingFromCallLog' | 'unloggedInFlight' | 'billedWithoutTokens' | 'killedInFlight'> {
  if (!r.db || r.requests === undefined || r.paid === undefined) return {};
  const rows = Object.entries(r.db.calls).reduce((a, [outcome, count]) => a + (outcome === 'cache_hit' ? 0 : count), 0);
  const gap = Math.max(0, r.requests - rows);
  const killedInFlight = r.fault?.killedWorker ? Math.max(r.fault.inFlight, sum(r.db.rowlessAttempts ?? {})) : undefined;
  const unloggedInFlight = killedInFlight !== undefined ? Math.min(killedInFlight, gap) : 0;
  return {
    killedInFlight,
    missingFromCallLog: gap - unloggedInFlight,
    unloggedInFlight,
    billedWithoutTokens: Math.max(0, r.paid - r.db.paidLogged - unloggedInFlight),
  };
}

/** What a good outcome is per expectation; `verdict` says what missed. */
function judge(r: CaseResult, c: ChaosCase, baseline: CaseResult | undefined): boolean {
  const misses: string[] = [];
  if (c.expect === 'completes') {
    if (r.status !== 'completed') misses.push(`status ${r.status}`);
    if (r.itemsLost) misses.push(`${r.itemsLost} items lost`);
    if (r.neededHuman) misses.push('needed a human');
  } else {
    // Bad credentials or an unknown model: the run ends on its own, quickly, with few calls spent.
    if (r.status === 'completed') misses.push('completed (should have ended at once)');
    else if (!/failed/.test(r.status ?? '')) misses.push(`status ${r.status}`);
    if ((r.wallMs ?? 0) > 60_000) misses.push(`took ${Math.round((r.wallMs ?? 0) / 1000)} s to end`);
    if ((r.requests ?? 0) > 20) misses.push(`${r.requests} requests spent`);
  }
  if (r.fault?.miss) misses.push(r.fault.miss);
  if (r.miss) misses.push(r.miss);
  if (r.rateBound?.target !== undefined && r.rateBound.ratio > r.rateBound.target) {
    misses.push(`wall ${r.rateBound.ratio.toFixed(2)}× what the provider's answers permit (target ≤ ${r.rateBound.target}×)`);
  }
  if (r.db?.duplicated) misses.push(`${r.db.duplicated} rows duplicated`);
  if (r.missingFromCallLog) misses.push(`${r.missingFromCallLog} provider requests missing from the call log`);
  const inFlight = r.killedInFlight ?? r.fault?.inFlight ?? 0;
  if (r.fault && inFlight > 0 && (r.repeated ?? 0) > inFlight && !c.sim) {
    misses.push(`${r.repeated} calls repeated, ${inFlight} in flight at the fault`);
  }
  if (c.id === baselineId(c) && baseline === undefined && r.status !== 'completed') misses.push('the baseline did not complete');
  r.verdict = misses.join('; ') || 'as expected';
  return misses.length === 0;
}

/** `--from-json`: the same results judged by the current rules, written as chaos-latest.md and a new JSON. */
function rejudge(root: string, file: string, name: string): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { startedAt: string; finishedAt: string; timeScale: number; scenes: number; characters: number; results: CaseResult[]; secrets?: SecretsReport };
  for (const r of saved.results) {
    const c = CASES.find((x) => x.id === r.id);
    if (!c || r.notApplicable || !r.db) continue;
    const baseline = saved.results.find((b) => b.id === baselineId(c));
    Object.assign(r, callLogGaps(r));
    r.pass = judge(r, c, r === baseline ? undefined : baseline);
  }
  const files = writeChaosReport(root, name, { ...saved, startedAt: new Date(saved.startedAt), finishedAt: new Date(saved.finishedAt), secrets: saved.secrets });
  log(`re-judged ${file}: wrote ${files.join(', ')}`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const root = path.resolve(__dirname, '../..');
  if (opts.fromJson) return rejudge(root, opts.fromJson, opts.name);
  const startedAt = new Date();
  const runTag = `${startedAt.toISOString().slice(0, 19).replace(/[-:T]/g, '')}_${process.pid}`;
  const chosen = CASES.filter((c) => !opts.only || opts.only.includes(c.id));
  // A case's baseline runs with it (the ingestion baseline always: it sets the deadlines).
  const selected = CASES.filter((c) => c.id === 'baseline' || chosen.includes(c) || chosen.some((x) => baselineId(x) === c.id));
  log(`chaos run ${runTag}: ${selected.length} case(s), ${opts.scenes} scenes, time scale ${opts.timeScale}`);
  const stack = await startChaosStack({ root, runTag, timeScale: opts.timeScale, log });
  // Interrupted: the dev server, the workers and the database go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      stack.close({ keepDatabase: opts.keepDatabase }).then(
        () => process.exit(130),
        () => process.exit(130),
      );
    });
  }
  const results: CaseResult[] = [];
  let secrets: SecretsReport | undefined;
  let failure: unknown;
  try {
    const baselines = new Map<string, CaseResult>();
    for (const c of selected) {
      log(`case ${c.id}: ${c.title}`);
      const r = await runCase(stack, c, opts, runTag, baselines.get(baselineId(c))).catch((err: unknown): CaseResult => {
        log(`  ${c.id}: the case itself failed: ${(err as Error).stack}`);
        return { id: c.id, title: c.title, expect: c.expect, status: 'error', error: (err as Error).message, pass: false, verdict: 'the case could not run' };
      });
      if (c.id === baselineId(c)) baselines.set(c.id, r);
      results.push(r);
    }
    log('searching histories, logs, the call log and the database for the keys and a line of dialogue');
    secrets = await searchSecrets(stack, results, opts, runTag);
  } catch (err) {
    failure = err;
  } finally {
    await stack.close({ keepDatabase: opts.keepDatabase });
  }
  const finishedAt = new Date();
  const files = writeChaosReport(root, opts.name, { startedAt, finishedAt, timeScale: opts.timeScale, scenes: opts.scenes, characters: CHARACTERS, results, secrets });
  log(`wrote ${files.join(', ')}`);
  if (failure) throw failure;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
