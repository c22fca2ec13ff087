/**
 * S3: a 2,000-scene, 60-character script at time scale 0.05 (whatever --time-scale says). It
 * must complete; reported: events per workflow run (the ingestion continues-as-new every 400
 * scenes), the largest payload in any history, whether the dev server logged a history-size,
 * history-count or blob-size warning (it is started with those warnings at 10,240 events,
 * 10 MB and 256 KB), and the peak RSS of this process — which runs the workers (and the
 * in-process simulator and client) — sampled every 200 ms. It runs --repeat times (default 3),
 * each on a fresh script: "≤ 1.5 × bound" is judged on the median run (one run's ratio moves by
 * ±0.1 on this machine kind), every other target on every run; the row is the median run's.
 * Each run also reports the CPU it used by part (cpu.ts): on 2 vCPUs that sets a floor under S3's wall.
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import { drawnByPurpose, drawnIngestionBound, ingestionBoundMs, SEED_LATENCY } from '../bounds';
import { cpuBudget, cpuLine, cpuUsed, sampleCpu } from '../cpu';
import { importText, startBenchApp, type BenchApp } from '../env';
import { measureIngest } from '../measure';
import { median, medianItem } from '../pairs';
import type { Row } from '../table';
import { WARN_LIMITS } from '../temporal-server';
import { llmOverhead, overheadCell, profileLine, SECONDS, timelineLine, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';
import { definedWork } from './s1';

const SCENES = 2000;
const CHARACTERS = 60;
export const S3_TIME_SCALE = 0.05;
const GiB = 1024 ** 3;
const MB = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

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
  const cpuBefore = sampleCpu(ctx.env.temporal.pid);
  let m;
  try {
    m = await measureIngest(ctx.env, app, { scriptId: script.scriptId, mode: 'full' });
  } finally {
    clearInterval(timer);
  }
  const cpuAfter = sampleCpu(ctx.env.temporal.pid);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  // The server may log a moment after the fact.
  await new Promise((r) => setTimeout(r, 1000));
  const warnings = ctx.env.temporal.sizeWarnings(logFrom);

  // The outline of 2,000 summaries may be made by sections: the outline calls are the app's (each one after another).
  const drawn = drawnByPurpose(m.draws);
  const work = { ...definedWork(text), outline: Math.max(1, drawn.outline.length) };
  const bound = drawnIngestionBound(lat, drawn, work, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts);
  const ratio = m.wallMs / bound.ms;
  const cpu = cpuBefore && cpuAfter ? cpuBudget(cpuUsed(cpuBefore, cpuAfter), m.sim.requests, bound.ms) : null;
  ctx.log(`S3 run ${run} of ${ctx.repeat}: ${SECONDS(m.wallMs)} / ${SECONDS(bound.ms)} = ${ratio.toFixed(3)}×${cpu ? ` (CPU floor ${cpu.floorOverBound.toFixed(2)}×)` : ''}`);
  return { run, m, bound, ratio, work, importMs, warnings, rssStart, rssPeak, heapUsedPeak: heapPeak.used, overhead: llmOverhead(m.chain, m.draws), cpu };
}

export async function runS3(ctx: ScenarioCtx): Promise<ScenarioReport> {
  const ts = S3_TIME_SCALE;
  const lat = SEED_LATENCY;
  const app = await startBenchApp(ctx.env, 's3', { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat } });
  try {
    await warmUp(ctx.env, app, `s3 ${ctx.runTag}`);
    const estimate = ingestionBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts);
    ctx.log(`S3: ${SCENES} scenes, ${CHARACTERS} characters at time scale ${ts} (bound ≈ ${SECONDS(estimate)}), ${ctx.repeat} run${ctx.repeat === 1 ? '' : 's'}`);
    const runs = [];
    for (let run = 1; run <= ctx.repeat; run++) runs.push(await measureRun(ctx, app, run));
    // The row and its profile are the median run's; "≤ 1.5 × bound" is judged on the median ratio, the other targets on every run.
    const mid = medianItem(runs, (r) => r.ratio);
    const medianRatio = median(runs.map((r) => r.ratio));
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
        ...(runs.length > 1 ? [`median of ${runs.length} runs (run ${mid.run}); wall/bound ${runs.map((r) => `${r.ratio.toFixed(2)}×`).join(', ')}`] : []),
        `${m.chain.runs.length} workflow runs, events/run ${eventsPerRun.join(' ')}`,
        `largest payload ${(largest.m.chain.largestPayloadBytes / 1024).toFixed(1)} KB`,
        `${warnings.length} size warnings`,
        `peak RSS ${MB(rssPeak)}`,
        ...(mid.cpu ? [`CPU ${mid.cpu.perCallMs.toFixed(1)} ms per call, a floor of ${mid.cpu.floorOverBound.toFixed(2)}× the bound on ${mid.cpu.cores} vCPUs`] : []),
        ...(m.db ? [`run_db_stats ${m.db.queries} q / ${m.db.commits} c`] : []),
      ],
    };
    const over = (what: string) => (runs.length > 1 ? `${what} (every run)` : what);
    return {
      rows: [row],
      targets: [
        { row: 'S3', what: over('completes'), value: failed.length ? failed.map((r) => `run ${r.run}: ${r.m.result.status}`).join(', ') : 'completed', met: failed.length === 0 },
        {
          row: 'S3',
          what: runs.length > 1 ? `wall ≤ 1.5 × bound: the median of ${runs.length} runs` : 'wall ≤ 1.5 × bound',
          value: `${medianRatio.toFixed(3)}×${runs.length > 1 ? ` (${runs.map((r) => `${r.ratio.toFixed(3)}×`).join(', ')})` : ''}`,
          met: medianRatio <= 1.5,
        },
        {
          row: 'S3',
          what: over(`events per run < ${WARN_LIMITS.historyCount}`),
          value: `max ${maxEvents} (${m.chain.runs.length} workflow runs)`,
          met: maxEvents < WARN_LIMITS.historyCount,
        },
        {
          row: 'S3',
          what: over('largest payload < 256 KB'),
          value: `${(largest.m.chain.largestPayloadBytes / 1024).toFixed(1)} KB (${largest.m.chain.largestPayloadWhere})`,
          met: largest.m.chain.largestPayloadBytes < WARN_LIMITS.blobSizeBytes,
        },
        { row: 'S3', what: over('no history/payload warning in the server log'), value: `${warnings.length} warning line(s)`, met: warnings.length === 0 },
        { row: 'S3', what: over('worker process peak RSS < 1 GiB'), value: `${MB(rssPeak)} (at start ${MB(rssStart)})`, met: rssPeak < GiB },
      ],
      profile: [
        profileLine('S3', m.chain, { summarizeScene: lat.summary.fixedMs * ts, writeOutline: lat.outline.fixedMs * ts, generateCharacterSheet: lat.sheet.fixedMs * ts }),
        timelineLine('S3', m.chain),
        ...(mid.cpu ? [`S3 ${cpuLine(mid.cpu)}${runs.length > 1 ? ` (the median run; every run: ${runs.map((r) => (r.cpu ? `${r.cpu.floorOverBound.toFixed(2)}×` : '—')).join(', ')})` : ''}`] : []),
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
