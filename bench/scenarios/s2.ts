/**
 * S2: ten different 100-scene scripts ingested at once by two worker processes sharing one
 * provider account: 10 concurrent requests and RPM requests per minute per provider (the
 * simulator answers a 429 beyond either). Storyloom is configured as its README tells a user:
 * STORYLOOM_<PROVIDER>_MAX_CONCURRENT = 10 ÷ 2 workers, and STORYLOOM_<PROVIDER>_MAX_PER_SECOND
 * = 90 % of RPM ÷ 60 (Temporal's task-queue rate limit, enforced across the workers; the 10 %
 * leaves room for its token bucket's burst). Reports 429s and how much of each limit was used.
 * Bound: the Anthropic call-time the simulator drew for the calls the scripts define ÷ 10 (at
 * least one script's own bound): `s2Bound`.
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import { chatCallMs, chatMs, drawnByPurpose, ingestionBoundMs, outlineCallsFor, SEED_LATENCY, take, type LatencyModel, type Work } from '../bounds';
import type { LatencyDraw } from '../../src/llm/simulator';
import { importText, parseText, startBenchClient, workerProcessEnv } from '../env';
import { startWorkerProcesses } from '../worker-processes';
import path from 'node:path';
import { mergeLatency, type ChainHistory } from '../history';
import { costOf, simDelta, startIngest } from '../measure';
import { wireDelta } from '../pg-counter';
import { declareTargets, newProgress, settleTarget, type Row, type ScenarioProgress } from '../table';
import { definedWork, llmOverhead, outlineConfig, overheadCell, profileLine, SECONDS, warmUp, type ScenarioCtx, type ScenarioReport } from './common';

const SCRIPTS = 10;
const SCENES = 100;
const CHARACTERS = 10;
const CAP = 10;
const WORKERS = 2;
/** Just above what 10 slots of 2 s summaries make (300 a minute): both limits matter. */
const RPM = 330;
/** The README's rule: a little under the provider's RPM, per second (`rpm` per real minute). */
const appPerSecond = (rpm: number) => Math.floor((0.9 * rpm * 100) / 60) / 100;

/** S2's targets, declared before the run: a failure reports each as missed. */
const TARGETS = {
  zero429: { row: 'S2', what: 'zero 429s' },
  limitUsed: { row: 'S2', what: '≥ 90% of the Anthropic limit used (summaries window; the larger of concurrency and RPM use)' },
};

/**
 * "≥ 90 % of the limit used" in the summaries window. When the summaries never all completed
 * there is no window to judge: the target is missed (not "?"), and says why.
 */
export function limitUseTarget(window: { utilWindow?: number; rpmWindow?: number; summariesAnswered: number; summariesDefined: number }) {
  const { utilWindow, rpmWindow } = window;
  if (utilWindow === undefined) {
    return { ...TARGETS.limitUsed, value: `not measured: the summaries never all completed (${window.summariesAnswered} of ${window.summariesDefined} answered), so there is no summaries window`, met: false };
  }
  const used = Math.max(utilWindow, rpmWindow ?? 0);
  return { ...TARGETS.limitUsed, value: `${(100 * used).toFixed(1)}% (concurrency ${(100 * utilWindow).toFixed(1)}%, RPM ${(100 * (rpmWindow ?? 0)).toFixed(1)}%)`, met: used >= 0.9 };
}

/**
 * The bound: the Anthropic call-time the simulator drew for the chat calls the scripts define
 * (per purpose, the first that many draws in admission order; a call the app made beyond them
 * does not raise the bound, one it never made counts at the model's mean) ÷ the concurrency
 * limit, and at least one script's own bound.
 */
export function s2Bound(lat: LatencyModel, works: readonly Work[], draws: readonly Pick<LatencyDraw, 'provider' | 'purpose' | 'ms'>[], cap: number, timeScale: number): number {
  const drawn = drawnByPurpose(draws.filter((d) => d.provider === 'anthropic'));
  const defined = (pick: (w: Work) => number) => works.reduce((n, w) => n + pick(w), 0);
  const chatMsTotal = [
    take(drawn.summary, defined((w) => w.summaries), chatMs(lat.summary) * timeScale),
    take(drawn.outline, defined((w) => w.outline), chatMs(lat.outline) * timeScale),
    take(drawn.sheet, defined((w) => w.sheets), chatMs(lat.sheet) * timeScale),
  ].reduce((n, t) => n + t.ms.reduce((a, b) => a + b, 0), 0);
  return Math.max(chatMsTotal / cap, ...works.map((w) => ingestionBoundMs(lat, w, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, timeScale)));
}

export async function runS2(ctx: ScenarioCtx & { progress?: ScenarioProgress }): Promise<ScenarioReport> {
  const { targets } = ctx.progress ?? newProgress();
  declareTargets(targets, Object.values(TARGETS));
  const ts = ctx.timeScale;
  const lat = SEED_LATENCY;
  // Latencies are × time scale, so a minute's worth of requests arrives in ts minutes: the RPM cap scales with them.
  const simRpm = Math.round(RPM / ts);
  const limits = { maxConcurrent: CAP, rpm: simRpm };
  const app = await startBenchClient(ctx.env, 's2', { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat }, limits: { anthropic: limits, openai: limits } });
  const appEnv = {
    STORYLOOM_ANTHROPIC_MAX_CONCURRENT: String(CAP / WORKERS),
    STORYLOOM_OPENAI_MAX_CONCURRENT: String(CAP / WORKERS),
    STORYLOOM_ANTHROPIC_MAX_PER_SECOND: String(appPerSecond(simRpm)),
    STORYLOOM_OPENAI_MAX_PER_SECOND: String(appPerSecond(simRpm)),
  };
  ctx.log(`S2: starting ${WORKERS} worker processes (${Object.entries(appEnv).map(([k, v]) => `${k}=${v}`).join(' ')})`);
  const workers = await startWorkerProcesses({
    client: ctx.env.client,
    count: WORKERS,
    env: { ...workerProcessEnv(ctx.env, app.sim), ...appEnv },
    taskQueue: app.taskQueue,
    logFile: path.join(ctx.env.dir, 's2-workers.log'),
  });
  let workersStopped = false;
  try {
    await warmUp(ctx.env, app, `s2 ${ctx.runTag}`);
    const cap = CAP;
    const scripts = [];
    const works: Work[] = [];
    const outline = outlineConfig(app);
    for (let i = 0; i < SCRIPTS; i++) {
      const title = `S2 script ${i + 1} ${ctx.runTag}`;
      const text = syntheticScreenplay({ title, scenes: SCENES, characters: CHARACTERS, salt: title });
      scripts.push(await importText(app.services.db, text, { title }));
      // What each script needs, from the script itself (not from what the app reports it made).
      works.push({ ...definedWork(text), outline: await outlineCallsFor(parseText(text).scenes, outline.route, outline.contextTokens) });
    }
    const oneScript = { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES };
    const estimate = Math.max((SCRIPTS * chatCallMs(lat, oneScript, 1, ts)) / cap, ingestionBoundMs(lat, oneScript, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts));
    ctx.log(`S2: ${SCRIPTS} scripts × ${SCENES} scenes at once, providers limited to ${CAP} concurrent and ${RPM}/min (bound ≈ ${SECONDS(estimate)})`);

    // Sample the simulator every 100 ms: Anthropic busy time and when the last summary is done.
    const wire0 = ctx.env.pgCounter.counts();
    const draw0 = app.sim.latencies().at(-1)?.seq ?? 0;
    const before = app.sim.stats();
    const t0 = performance.now();
    const totalSummaries = SCRIPTS * SCENES;
    let summariesDone: { t: number; busyMs: number; requests: number } | undefined;
    const sample = () => {
      const s = app.sim.stats();
      if (!summariesDone && (s.byPurpose.summary?.ok ?? 0) - (before.byPurpose.summary?.ok ?? 0) >= totalSummaries) {
        summariesDone = {
          t: performance.now(),
          busyMs: s.byProvider.anthropic.busyMs - before.byProvider.anthropic.busyMs,
          requests: s.byProvider.anthropic.ok - before.byProvider.anthropic.ok,
        };
      }
    };
    const timer = setInterval(sample, 100);
    let starts;
    let ends;
    try {
      starts = await Promise.all(scripts.map((s) => startIngest(ctx.env, app, { scriptId: s.scriptId, mode: 'full' })));
      ends = await Promise.all(starts.map((s) => s.done));
    } finally {
      clearInterval(timer);
    }
    sample();
    const wallMs = Math.max(...ends.map((e) => e.endedAt)) - t0;
    const after = app.sim.stats();
    const sim = simDelta(before, after);
    const draws = app.sim.latencies(draw0);
    // Stopping the workers writes what they buffered (cache entries, statistics): counted too.
    await workers.stop();
    workersStopped = true;
    const wire = wireDelta(wire0, ctx.env.pgCounter.counts());

    const chains: ChainHistory[] = [];
    let queries = 0;
    let commits = 0;
    let dbKnown = true;
    for (const s of starts) {
      const { chain, db } = await costOf(ctx.env, app, s.workflowId, s.firstRunId);
      chains.push(chain);
      if (db) {
        queries += db.queries;
        commits += db.commits;
      } else dbKnown = false;
    }
    const bound = s2Bound(lat, works, draws, cap, ts);

    const utilRun = sim.anthropicBusyMs / wallMs / cap;
    const windowMs = summariesDone ? summariesDone.t - t0 : undefined;
    const utilWindow = summariesDone && windowMs ? summariesDone.busyMs / windowMs / cap : undefined;
    // Answered requests per minute in the summaries window ÷ RPM (at the scenario's time scale).
    const rpmWindow = summariesDone && windowMs ? summariesDone.requests / (windowMs / 60_000 / ts) / RPM : undefined;
    const failed = ends.filter((e) => e.result.status !== 'completed').length;
    const merged = {
      scheduleToStart: Object.fromEntries(
        ['summarizeScene', 'writeOutline', 'generateCharacterSheet', 'embedScenes'].map((t) => [t, mergeLatency(chains, (c) => c.scheduleToStart[t] ?? { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, maxMs: 0 })]),
      ),
      startToClose: Object.fromEntries(
        ['summarizeScene', 'writeOutline', 'generateCharacterSheet', 'embedScenes'].map((t) => [t, mergeLatency(chains, (c) => c.startToClose[t] ?? { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, maxMs: 0 })]),
      ),
      workflowTask: mergeLatency(chains, (c) => c.workflowTask),
      refill: mergeLatency(chains, (c) => c.refill),
    };
    const row: Row = {
      id: 'S2',
      label: `${SCRIPTS} scripts, ${WORKERS} worker processes, ${cap} concurrent + ${RPM}/min`,
      wallMs,
      boundMs: bound,
      llmCalls: sim.requests,
      rateLimited: sim.rateLimited,
      dbQueries: wire.statements,
      dbCommits: wire.commits,
      historyEvents: chains.reduce((a, c) => a + c.totalEvents, 0),
      overhead: overheadCell(llmOverhead(merged, draws)),
      notes: [
        `per script ${Math.round(wire.statements / SCRIPTS)} statements, ${Math.round(wire.commits / SCRIPTS)} commits`,
        ...(dbKnown ? [`run_db_stats ${queries} q / ${commits} c`] : []),
        `Anthropic concurrency use: ${(100 * (utilWindow ?? NaN)).toFixed(1)}% in the summaries window (${windowMs ? SECONDS(windowMs) : '?'}), ${(100 * utilRun).toFixed(1)}% over the run; RPM use ${(100 * (rpmWindow ?? NaN)).toFixed(1)}%`,
        `app: ${Object.entries(appEnv).map(([k, v]) => `${k.replace('STORYLOOM_', '')}=${v}`).join(', ')}`,
        `peak concurrent ${after.byProvider.anthropic.peakConcurrent}`,
        ...(failed ? [`${failed} not completed`] : []),
      ],
    };
    settleTarget(targets, { ...TARGETS.zero429, value: String(sim.rateLimited), met: sim.rateLimited === 0 });
    settleTarget(
      targets,
      limitUseTarget({ utilWindow, rpmWindow, summariesAnswered: (after.byPurpose.summary?.ok ?? 0) - (before.byPurpose.summary?.ok ?? 0), summariesDefined: totalSummaries }),
    );
    return {
      rows: [row],
      targets,
      profile: [
        profileLine('S2 (10 workflows; schedule→start includes waiting for one of the worker\'s 10 slots)', merged, {
          summarizeScene: lat.summary.fixedMs * ts,
          writeOutline: lat.outline.fixedMs * ts,
          generateCharacterSheet: lat.sheet.fixedMs * ts,
        }),
      ],
      details: {
        timeScale: ts,
        cap,
        wallMs,
        boundMs: bound,
        // Every Anthropic call the simulator drew, the app's extra calls included (the bound takes only the defined ones).
        totalAnthropicCallMs: draws.filter((d) => d.provider === 'anthropic').reduce((a, d) => a + d.ms, 0),
        definedWork: works,
        anthropicBusyMs: sim.anthropicBusyMs,
        utilisationRun: utilRun,
        utilisationSummariesWindow: utilWindow,
        rpmUseSummariesWindow: rpmWindow,
        rpm: RPM,
        workers: WORKERS,
        appEnv,
        wire,
        summariesWindowMs: windowMs,
        sim,
        perWorkflow: ends.map((e, i) => ({
          workflowId: starts[i].workflowId,
          wallMs: e.wallMs,
          status: e.result.status,
          timingsMs: e.result.timingsMs,
          historyEvents: chains[i].totalEvents,
        })),
        profile: merged,
      },
    };
  } finally {
    if (!workersStopped) await workers.stop();
    await app.stop();
  }
}
