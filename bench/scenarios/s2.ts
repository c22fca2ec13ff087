/**
 * S2: ten different 100-scene scripts ingested at once against providers that allow 10
 * concurrent requests each (the simulator answers a 429 beyond that), with the app configured
 * to match (STORYLOOM_<PROVIDER>_MAX_CONCURRENT=10; one worker process, so the cap holds across
 * workflows). Reports 429s and how busy the Anthropic cap was: busyMs / wall / cap.
 * Bound: total Anthropic call-time / cap (at least one script's own bound).
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import { chatCallMs, ingestionBoundMs, SEED_LATENCY } from '../bounds';
import { importText, startBenchApp } from '../env';
import { mergeLatency, type ChainHistory } from '../history';
import { costOf, simDelta, startIngest, workWindow } from '../measure';
import type { Row } from '../table';
import { profileLine, SECONDS, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';

const SCRIPTS = 10;
const SCENES = 100;
const CHARACTERS = 10;
const CAP = 10;

export async function runS2(ctx: ScenarioCtx): Promise<ScenarioReport> {
  const ts = ctx.timeScale;
  const lat = SEED_LATENCY;
  const app = await startBenchApp(
    ctx.env,
    's2',
    { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat }, limits: { anthropic: { maxConcurrent: CAP }, openai: { maxConcurrent: CAP } } },
    { STORYLOOM_ANTHROPIC_MAX_CONCURRENT: String(CAP), STORYLOOM_OPENAI_MAX_CONCURRENT: String(CAP) },
  );
  try {
    await warmUp(ctx.env, app, `s2 ${ctx.runTag}`);
    const cap = Math.min(app.config.llm.providers.anthropic.maxConcurrent, CAP);
    const scripts = [];
    for (let i = 0; i < SCRIPTS; i++) {
      const title = `S2 script ${i + 1} ${ctx.runTag}`;
      scripts.push(await importText(app.services.db, syntheticScreenplay({ title, scenes: SCENES, characters: CHARACTERS, salt: title }), { title }));
    }
    const oneScript = { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES };
    const estimate = Math.max((SCRIPTS * chatCallMs(lat, oneScript, 1, ts)) / cap, ingestionBoundMs(lat, oneScript, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts));
    ctx.log(`S2: ${SCRIPTS} scripts × ${SCENES} scenes at once, providers capped at ${CAP} concurrent (bound ≈ ${SECONDS(estimate)})`);

    // Sample the simulator every 100 ms: Anthropic busy time and when the last summary is done.
    const window = await workWindow(ctx.env, app);
    const before = app.sim.stats();
    const t0 = performance.now();
    const totalSummaries = SCRIPTS * SCENES;
    let summariesDone: { t: number; busyMs: number } | undefined;
    const sample = () => {
      const s = app.sim.stats();
      if (!summariesDone && (s.byPurpose.summary?.ok ?? 0) - (before.byPurpose.summary?.ok ?? 0) >= totalSummaries) {
        summariesDone = { t: performance.now(), busyMs: s.byProvider.anthropic.busyMs - before.byProvider.anthropic.busyMs };
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
    const { wire, draws } = await window.end();

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
    const outlineCalls = sim.byPurpose.outline ?? SCRIPTS;
    const works = ends.map((e) => workOf(e.result, { byPurpose: { outline: Math.round(outlineCalls / SCRIPTS) } }));
    // The Anthropic call-time the simulator drew (every chat purpose), not the model's constants.
    const totalChatMs = draws.filter((d) => d.provider === 'anthropic').reduce((a, d) => a + d.ms, 0);
    const bound = Math.max(totalChatMs / cap, ...works.map((w) => ingestionBoundMs(lat, w, { ...DEFAULT_CONCURRENCY, batchEmbeddings: true, parallelPhase2: true }, ts)));

    const utilRun = sim.anthropicBusyMs / wallMs / cap;
    const windowMs = summariesDone ? summariesDone.t - t0 : undefined;
    const utilWindow = summariesDone && windowMs ? summariesDone.busyMs / windowMs / cap : undefined;
    const failed = ends.filter((e) => e.result.status !== 'completed').length;
    const row: Row = {
      id: 'S2',
      label: `${SCRIPTS} scripts at once, cap ${cap}`,
      wallMs,
      boundMs: bound,
      llmCalls: sim.requests,
      rateLimited: sim.rateLimited,
      dbQueries: wire.statements,
      dbCommits: wire.commits,
      historyEvents: chains.reduce((a, c) => a + c.totalEvents, 0),
      notes: [
        `per script ${Math.round(wire.statements / SCRIPTS)} statements, ${Math.round(wire.commits / SCRIPTS)} commits`,
        ...(dbKnown ? [`run_db_stats ${queries} q / ${commits} c`] : []),
        `Anthropic cap use: ${(100 * (utilWindow ?? NaN)).toFixed(1)}% in the summaries window (${windowMs ? SECONDS(windowMs) : '?'}), ${(100 * utilRun).toFixed(1)}% over the run`,
        `peak concurrent ${after.byProvider.anthropic.peakConcurrent}`,
        ...(failed ? [`${failed} not completed`] : []),
      ],
    };
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
    return {
      rows: [row],
      targets: [
        { row: 'S2', what: 'zero 429s', value: String(sim.rateLimited), met: sim.rateLimited === 0 },
        {
          row: 'S2',
          what: '≥ 90% Anthropic cap utilisation (summaries window)',
          value: utilWindow === undefined ? 'n/a' : `${(100 * utilWindow).toFixed(1)}%`,
          met: utilWindow === undefined ? null : utilWindow >= 0.9,
        },
      ],
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
        totalAnthropicCallMs: totalChatMs,
        anthropicBusyMs: sim.anthropicBusyMs,
        utilisationRun: utilRun,
        utilisationSummariesWindow: utilWindow,
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
    await app.stop();
  }
}
