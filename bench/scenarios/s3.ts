/**
 * S3: a 2,000-scene, 60-character script at time scale 0.05 (whatever --time-scale says). It
 * must complete; reported: events per workflow run (the ingestion continues-as-new every 400
 * scenes), the largest payload in any history, whether the dev server logged a history-size,
 * history-count or blob-size warning (it is started with those warnings at 10,240 events,
 * 10 MB and 256 KB), and the peak RSS of this process — which runs the workers (and the
 * in-process simulator and client) — sampled every 200 ms.
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import { drawnByPurpose, drawnIngestionBound, ingestionBoundMs, SEED_LATENCY } from '../bounds';
import { importText, startBenchApp } from '../env';
import { measureIngest } from '../measure';
import type { Row } from '../table';
import { WARN_LIMITS } from '../temporal-server';
import { llmOverhead, overheadCell, profileLine, SECONDS, timelineLine, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';
import { definedWork } from './s1';

const SCENES = 2000;
const CHARACTERS = 60;
export const S3_TIME_SCALE = 0.05;
const GiB = 1024 ** 3;
const MB = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

export async function runS3(ctx: ScenarioCtx): Promise<ScenarioReport> {
  const ts = S3_TIME_SCALE;
  const lat = SEED_LATENCY;
  const app = await startBenchApp(ctx.env, 's3', { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat } });
  try {
    await warmUp(ctx.env, app, `s3 ${ctx.runTag}`);
    const title = `S3 ${SCENES} scenes ${ctx.runTag}`;
    const tImport = performance.now();
    const text = syntheticScreenplay({ title, scenes: SCENES, characters: CHARACTERS, salt: title });
    const script = await importText(app.services.db, text, { title });
    const importMs = performance.now() - tImport;
    const estimate = ingestionBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts);
    ctx.log(`S3: ${SCENES} scenes, ${CHARACTERS} characters at time scale ${ts} (bound ≈ ${SECONDS(estimate)})`);

    const logFrom = ctx.env.temporal.logBytes();
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    const heapPeak = { used: process.memoryUsage().heapUsed };
    const timer = setInterval(() => {
      const m = process.memoryUsage();
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak.used = Math.max(heapPeak.used, m.heapUsed);
    }, 200);
    let m;
    try {
      m = await measureIngest(ctx.env, app, { scriptId: script.scriptId, mode: 'full' });
    } finally {
      clearInterval(timer);
    }
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    // The server may log a moment after the fact.
    await new Promise((r) => setTimeout(r, 1000));
    const warnings = ctx.env.temporal.sizeWarnings(logFrom);

    // The outline of 2,000 summaries may be made by sections: the outline calls are the app's (each one after another).
    const drawn = drawnByPurpose(m.draws);
    const work = { ...definedWork(text), outline: Math.max(1, drawn.outline.length) };
    const drawnBound = drawnIngestionBound(lat, drawn, work, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts);
    const bound = drawnBound.ms;
    const overhead = llmOverhead(m.chain, m.draws);
    const eventsPerRun = m.chain.runs.map((r) => r.historyLength);
    const row: Row = {
      id: 'S3',
      label: `${SCENES} scenes, ${CHARACTERS} chars @${ts}`,
      wallMs: m.wallMs,
      boundMs: bound,
      llmCalls: m.sim.requests,
      rateLimited: m.sim.rateLimited,
      dbQueries: m.wire.statements,
      dbCommits: m.wire.commits,
      historyEvents: m.chain.totalEvents,
      overhead: overheadCell(overhead),
      notes: [
        m.result.status,
        `${m.chain.runs.length} runs, events/run ${eventsPerRun.join(' ')}`,
        `largest payload ${(m.chain.largestPayloadBytes / 1024).toFixed(1)} KB`,
        `${warnings.length} size warnings`,
        `peak RSS ${MB(rssPeak)}`,
        ...(m.db ? [`run_db_stats ${m.db.queries} q / ${m.db.commits} c`] : []),
      ],
    };
    return {
      rows: [row],
      targets: [
        { row: 'S3', what: 'completes', value: m.result.status, met: m.result.status === 'completed' },
        { row: 'S3', what: 'wall ≤ 1.5 × bound', value: `${(m.wallMs / bound).toFixed(3)}×`, met: m.wallMs <= 1.5 * bound },
        {
          row: 'S3',
          what: `events per run < ${WARN_LIMITS.historyCount}`,
          value: `max ${m.chain.maxEventsPerRun} (${m.chain.runs.length} runs)`,
          met: m.chain.maxEventsPerRun < WARN_LIMITS.historyCount,
        },
        {
          row: 'S3',
          what: 'largest payload < 256 KB',
          value: `${(m.chain.largestPayloadBytes / 1024).toFixed(1)} KB (${m.chain.largestPayloadWhere})`,
          met: m.chain.largestPayloadBytes < WARN_LIMITS.blobSizeBytes,
        },
        { row: 'S3', what: 'no history/payload warning in the server log', value: `${warnings.length} warning line(s)`, met: warnings.length === 0 },
        { row: 'S3', what: 'worker process peak RSS < 1 GiB', value: `${MB(rssPeak)} (at start ${MB(rssStart)})`, met: rssPeak < GiB },
      ],
      profile: [profileLine('S3', m.chain, { summarizeScene: lat.summary.fixedMs * ts, writeOutline: lat.outline.fixedMs * ts, generateCharacterSheet: lat.sheet.fixedMs * ts }), timelineLine('S3', m.chain)],
      details: {
        timeScale: ts,
        scenes: SCENES,
        characters: CHARACTERS,
        importMs,
        work,
        appWork: workOf(m.result, m.sim),
        bound: drawnBound,
        overhead,
        wire: m.wire,
        result: m.result,
        sim: m.sim,
        history: m.chain,
        db: m.db,
        warnings: warnings.slice(0, 20),
        serverLog: ctx.env.temporal.logFile,
        rss: { startBytes: rssStart, peakBytes: rssPeak, heapUsedPeakBytes: heapPeak.used, sampledEveryMs: 200, process: 'bench (workers + simulator + client)' },
      },
    };
  } finally {
    await app.stop();
  }
}
