/**
 * S3: a 2,000-scene, 60-character script at time scale 0.05 (whatever --time-scale says). It
 * must complete; reported: events per workflow run (the ingestion continues-as-new every 400
 * scenes), the largest payload in any history, whether the dev server logged a history-size,
 * history-count or blob-size warning (it is started with those warnings at 10,240 events,
 * 10 MB and 256 KB), and the peak RSS of this process — which runs the workers (and the
 * in-process simulator and client) — sampled every 200 ms. It runs --repeat times (default 3),
 * each on a fresh script: "≤ 1.5 × bound" is judged on the median run (one run's ratio moves by
 * ±0.1 on this machine kind; with an even count the upper of the middle two), every other target
 * on every run; the row is the run the verdict is about (`judgedRun`).
 * Each run also reports the CPU it used by part (cpu.ts), from the workflow's start to its result:
 * on 2 vCPUs that sets a floor under S3's wall.
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import type { LatencyDraw } from '../../src/llm/simulator';
import { drawnByPurpose, drawnIngestionBound, ingestionBoundMs, outlineCallsFor, SEED_LATENCY, type Parallelism, type Work } from '../bounds';
import { cpuBudget, cpuLine, cpuUsed, sampleCpu } from '../cpu';
import { importText, parseText, startBenchApp, type BenchApp, type BenchEnv } from '../env';
import { measureIngest, type IngestMeasure, type IngestRequest } from '../measure';
import { declareTargets, newProgress, settleTarget, type Row, type ScenarioProgress, type Target } from '../table';
import { WARN_LIMITS } from '../temporal-server';
import { definedWork, llmOverhead, missingNotes, outlineConfig, overheadCell, profileLine, SECONDS, timelineLine, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';

const SCENES = 2000;
const CHARACTERS = 60;
export const S3_TIME_SCALE = 0.05;
const GiB = 1024 ** 3;
const MB = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const PARALLELISM: Parallelism = { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true };

/**
 * measureIngest with a CPU reading at each edge of the run: when the workflow is started and
 * when its result reaches the client. Not after measureIngest returns: that would add the
 * window's end flush and costOf (fetching and walking the ~10,800 events of history, and the
 * server serving them), which are the bench's work, not the run's.
 */
export async function measureWithCpu<S>(env: BenchEnv, app: BenchApp, req: IngestRequest, sample: () => S): Promise<{ m: IngestMeasure; cpuBefore: S; cpuAfter: S }> {
  let cpuBefore: S | undefined;
  let cpuAfter: S | undefined;
  const m = await measureIngest(env, app, req, {
    onStart: () => {
      cpuBefore = sample();
    },
    onEnded: () => {
      cpuAfter = sample();
    },
  });
  return { m, cpuBefore: cpuBefore as S, cpuAfter: cpuAfter as S };
}

/**
 * S3's bound: the work the script defines, with its outline calls counted from the script
 * (`outlineCalls`: outlineCallsFor), at the latencies the simulator drew for the run. Only the
 * first `outlineCalls` outline draws, in the order the simulator admitted them, are the bound's:
 * more outline calls by the app are its own cost and never raise the bound.
 */
export function s3Bound(work: Omit<Work, 'outline'>, outlineCalls: number, draws: readonly Pick<LatencyDraw, 'purpose' | 'ms'>[]) {
  const defined: Work = { ...work, outline: outlineCalls };
  return { work: defined, bound: drawnIngestionBound(SEED_LATENCY, drawnByPurpose(draws), defined, PARALLELISM, S3_TIME_SCALE) };
}

/**
 * The run "≤ 1.5 × bound" is judged on, and the run the row shows: the same one. The median run;
 * with an even count the upper of the two middle runs (the higher ratio: the more conservative
 * verdict), not the mean of the two, which is no run's.
 */
export function judgedRun<T extends { ratio: number }>(runs: readonly T[]): T {
  if (!runs.length) throw new Error('no runs to judge');
  const sorted = [...runs].sort((a, b) => a.ratio - b.ratio);
  return sorted[Math.floor(sorted.length / 2)];
}

/** What S3 judges, worded as its targets say (declared before the first run, so a failure reports each as missed). */
function s3Targets(runs: number): Record<'completes' | 'ratio' | 'events' | 'payload' | 'warnings' | 'rss', Pick<Target, 'row' | 'what'>> {
  const over = (what: string) => ({ row: 'S3', what: runs > 1 ? `${what} (every run)` : what });
  return {
    completes: over('completes'),
    ratio: { row: 'S3', what: runs === 1 ? 'wall ≤ 1.5 × bound' : `wall ≤ 1.5 × bound: the ${runs % 2 ? 'median' : 'upper middle'} of ${runs} runs` },
    events: over(`events per run < ${WARN_LIMITS.historyCount}`),
    payload: over('largest payload < 256 KB'),
    warnings: over('no history/payload warning in the server log'),
    rss: over('worker process peak RSS < 1 GiB'),
  };
}

/** The outline route and context the app was configured with (the run's configuration, as DEFAULT_CONCURRENCY is). */
/** One measured S3 run: a fresh script (its own salt), ingested in full from a cold cache. */
async function measureRun(ctx: ScenarioCtx, app: BenchApp, run: number) {
  const ts = S3_TIME_SCALE;
  const lat = SEED_LATENCY;
  const title = `S3 ${SCENES} scenes ${ctx.runTag} run ${run}`;
  const tImport = performance.now();
  const text = syntheticScreenplay({ title, scenes: SCENES, characters: CHARACTERS, salt: title });
  const script = await importText(app.services.db, text, { title });
  const importMs = performance.now() - tImport;

  const logFrom = ctx.env.temporal.logBytes();
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  const heapPeak = { used: process.memoryUsage().heapUsed };
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak.used = Math.max(heapPeak.used, m.heapUsed);
  }, 200);
  let measured;
  try {
    measured = await measureWithCpu(ctx.env, app, { scriptId: script.scriptId, mode: 'full' }, () => sampleCpu(ctx.env.temporal.pid));
  } finally {
    clearInterval(timer);
  }
  const { m, cpuBefore, cpuAfter } = measured;
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  // The server may log a moment after the fact.
  await new Promise((r) => setTimeout(r, 1000));
  const warnings = ctx.env.temporal.sizeWarnings(logFrom);

  // The outline of 2,000 summaries is made by sections, one after another, then one call over them: how many the script needs, not how many the app made.
  const { route, contextTokens } = outlineConfig(app);
  const outlineCalls = await outlineCallsFor(parseText(text).scenes, route, contextTokens);
  const { work, bound } = s3Bound(definedWork(text), outlineCalls, m.draws);
  const ratio = m.wallMs / bound.ms;
  const cpu = cpuBefore && cpuAfter ? cpuBudget(cpuUsed(cpuBefore, cpuAfter), m.sim.requests, bound.ms) : null;
  ctx.log(`S3 run ${run} of ${ctx.repeat}: ${SECONDS(m.wallMs)} / ${SECONDS(bound.ms)} = ${ratio.toFixed(3)}×${cpu ? ` (CPU floor ${cpu.floorOverBound.toFixed(2)}×)` : ''}`);
  return { run, m, bound, ratio, work, importMs, warnings, rssStart, rssPeak, heapUsedPeak: heapPeak.used, overhead: llmOverhead(m.chain, m.draws), cpu };
}

export async function runS3(ctx: ScenarioCtx & { progress?: ScenarioProgress }): Promise<ScenarioReport> {
  const ts = S3_TIME_SCALE;
  const lat = SEED_LATENCY;
  const { targets } = ctx.progress ?? newProgress();
  const T = s3Targets(ctx.repeat);
  declareTargets(targets, Object.values(T));
  const app = await startBenchApp(ctx.env, 's3', { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat } });
  try {
    await warmUp(ctx.env, app, `s3 ${ctx.runTag}`);
    const estimate = ingestionBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, PARALLELISM, ts);
    ctx.log(`S3: ${SCENES} scenes, ${CHARACTERS} characters at time scale ${ts} (bound ≈ ${SECONDS(estimate)}), ${ctx.repeat} run${ctx.repeat === 1 ? '' : 's'}`);
    const runs = [];
    for (let run = 1; run <= ctx.repeat; run++) runs.push(await measureRun(ctx, app, run));
    // The row, its profile and "≤ 1.5 × bound" are the judged run's (the median; the upper middle for an even count); the other targets are every run's.
    const mid = judgedRun(runs);
    const medianRatio = mid.ratio;
    const { m, bound } = mid;
    const failed = runs.filter((r) => r.m.result.status !== 'completed');
    const maxEvents = Math.max(...runs.map((r) => r.m.chain.maxEventsPerRun));
    const largest = runs.reduce((a, r) => (r.m.chain.largestPayloadBytes > a.m.chain.largestPayloadBytes ? r : a));
    const warnings = runs.flatMap((r) => r.warnings);
    const rssPeak = Math.max(...runs.map((r) => r.rssPeak));
    const rssStart = runs[0].rssStart;
    const eventsPerRun = m.chain.runs.map((r) => r.historyLength);
    const row: Row = {
      id: 'S3',
      label: `${SCENES} scenes, ${CHARACTERS} chars @${ts}`,
      wallMs: m.wallMs,
      boundMs: bound.ms,
      llmCalls: m.sim.requests,
      rateLimited: m.sim.rateLimited,
      dbQueries: m.wire.statements,
      dbCommits: m.wire.commits,
      historyEvents: m.chain.totalEvents,
      overhead: overheadCell(mid.overhead),
      notes: [
        m.result.status,
        ...(runs.length > 1 ? [`${runs.length % 2 ? 'median' : 'upper middle'} of ${runs.length} runs (run ${mid.run}); wall/bound ${runs.map((r) => `${r.ratio.toFixed(2)}×`).join(', ')}`] : []),
        ...missingNotes(bound),
        `${m.chain.runs.length} workflow runs, events/run ${eventsPerRun.join(' ')}`,
        `largest payload ${(largest.m.chain.largestPayloadBytes / 1024).toFixed(1)} KB`,
        `${warnings.length} size warnings`,
        `peak RSS ${MB(rssPeak)}`,
        ...(mid.cpu ? [`CPU ${mid.cpu.perCallMs.toFixed(1)} ms per call, a floor of ${mid.cpu.floorOverBound.toFixed(2)}× the bound on ${mid.cpu.cores} vCPUs`] : []),
        ...(m.db ? [`run_db_stats ${m.db.queries} q / ${m.db.commits} c`] : []),
      ],
    };
    for (const t of [
      { ...T.completes, value: failed.length ? failed.map((r) => `run ${r.run}: ${r.m.result.status}`).join(', ') : 'completed', met: failed.length === 0 },
      { ...T.ratio, value: `${medianRatio.toFixed(3)}×${runs.length > 1 ? ` (run ${mid.run}; ${runs.map((r) => `${r.ratio.toFixed(3)}×`).join(', ')})` : ''}`, met: medianRatio <= 1.5 },
      { ...T.events, value: `max ${maxEvents} (${m.chain.runs.length} workflow runs)`, met: maxEvents < WARN_LIMITS.historyCount },
      {
        ...T.payload,
        value: `${(largest.m.chain.largestPayloadBytes / 1024).toFixed(1)} KB (${largest.m.chain.largestPayloadWhere})`,
        met: largest.m.chain.largestPayloadBytes < WARN_LIMITS.blobSizeBytes,
      },
      { ...T.warnings, value: `${warnings.length} warning line(s)`, met: warnings.length === 0 },
      { ...T.rss, value: `${MB(rssPeak)} (at start ${MB(rssStart)})`, met: rssPeak < GiB },
    ])
      settleTarget(targets, t);
    return {
      rows: [row],
      targets,
      profile: [
        profileLine('S3', m.chain, { summarizeScene: lat.summary.fixedMs * ts, writeOutline: lat.outline.fixedMs * ts, generateCharacterSheet: lat.sheet.fixedMs * ts }),
        timelineLine('S3', m.chain),
        ...(mid.cpu ? [`S3 ${cpuLine(mid.cpu)}${runs.length > 1 ? ` (the judged run; every run: ${runs.map((r) => (r.cpu ? `${r.cpu.floorOverBound.toFixed(2)}×` : '—')).join(', ')})` : ''}`] : []),
      ],
      details: {
        timeScale: ts,
        scenes: SCENES,
        characters: CHARACTERS,
        medianRun: mid.run,
        medianRatio,
        runs: runs.map((r) => ({
          run: r.run,
          wallMs: r.m.wallMs,
          ratio: r.ratio,
          importMs: r.importMs,
          work: r.work,
          appWork: workOf(r.m.result, r.m.sim),
          outlineCallsMade: r.m.sim.byPurpose.outline ?? 0,
          bound: r.bound,
          overhead: r.overhead,
          wire: r.m.wire,
          result: r.m.result,
          sim: r.m.sim,
          history: r.m.chain,
          db: r.m.db,
          warnings: r.warnings.slice(0, 20),
          rss: { startBytes: r.rssStart, peakBytes: r.rssPeak, heapUsedPeakBytes: r.heapUsedPeak, sampledEveryMs: 200, process: 'bench (workers + simulator + client)' },
          cpu: r.cpu,
        })),
        serverLog: ctx.env.temporal.logFile,
      },
    };
  } finally {
    await app.stop();
  }
}
