/**
 * S1 (seed 003): a 100-scene, 10-character script at the seed's latencies (summary 2 s,
 * outline 5 s, sheet 3 s, embeddings 0.5 s + 15 ms/input), × --time-scale.
 *   1  every flag off                              bound: the sum of every call
 *   2  defaults, cold cache (a fresh script)       bound: N summaries through c slots + max(outline, C sheets through c slots, embeddings)
 *   3  row 2 again, nothing changed                bound: 0 (no provider call needed)
 *   4  one scene edited, partial ingestion         bound: one summary + max(outline, affected sheets, one embedding request);
 *                                                  and the simulator must have received exactly the edit's calls (editTargets)
 *   5  row 2's calls from a bare script with a limiter (no Temporal, no database): the floor
 *   6  row 2 on DBOS Transact (bench/peers/dbos-ingest.ts): the same pipeline, durable on Postgres alone
 * Then --pairs − 1 more runs of rows 2 and 6 on the same script, in alternating order: "not
 * slower than the peer" is judged on the median pair (bench/pairs.ts).
 * The work (N, C, the sheets an edit affects) is what the scenario defines, from the script it
 * wrote; each bound uses the latencies the simulator drew for the row's requests (--jitter).
 */
import { DEFAULT_CONCURRENCY, type IngestionFlags } from '../../src/shared/ingestion';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { MAX_INPUTS_PER_REQUEST } from '../../src/domain/ingestion/embedding-batches';
import type { Provider } from '../../src/shared/llm-routing';
import { drawnByPurpose, drawnIngestionBound, ingestionBoundMs, outlineCallsFor, SEED_LATENCY, sequentialBoundMs, type Parallelism, type Work } from '../bounds';
import { importText, parseText, startBenchApp } from '../env';
import { floorIngestion } from '../floor';
import { createDbosPeer, IngestionRepository } from '../peers/dbos-ingest';
import { measureTemporalRounds, roundLine } from '../temporal-round';
import { comparePairs, median, signedSeconds } from '../pairs';
import { comparePhases, phaseSpans, runSpan, signedMs, slotHandoffs } from '../phases';
import { measureIngest, workWindow, type IngestMeasure, type SimDelta } from '../measure';
import { declareTargets, newProgress, settleTarget, type Row, type ScenarioProgress } from '../table';
import { definedWork, llmOverhead, missingNotes, outlineConfig, overheadCell, profileLine, SECONDS, timelineLine, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';

const SCENES = 100;
const CHARACTERS = 10;
/** 1-based scene edited for row 4 (scene 49 has three speakers). */
const EDITED_SCENE = 49;

const ALL_OFF: IngestionFlags = { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: false };
const DEFAULTS: Parallelism = { summaries: DEFAULT_CONCURRENCY.summaries, sheets: DEFAULT_CONCURRENCY.sheets, batchEmbeddings: true, parallelPhase2: true };
const SEQUENTIAL: Parallelism = { summaries: 1, sheets: 1, batchEmbeddings: false, parallelPhase2: false };

/** What editing scene `n` (1-based) makes stale: its summary, the outline, its speakers' sheets, its embedding. */
export function editWork(text: string, n: number): Work {
  return { summaries: 1, outline: 1, sheets: new Set(parseText(text).scenes[n - 1].characters).size, embeddings: 1 };
}

/** Provider requests by purpose, as the simulator counts them, and the embedding inputs they carried. */
export interface EditCalls {
  summary: number;
  outline: number;
  sheet: number;
  embedding: number;
  embeddingInputs: number;
}

/**
 * The provider requests editing scene `n` (1-based) of `text` requires: its summary, the outline
 * over every summary (`outlineCallsFor`), a sheet per speaker of the scene, and one embedding request
 * carrying the scene's one input — from the script, not from what the app reports.
 */
export async function expectedEditCalls(text: string, n: number, outline: { route: { provider: Provider; model: string }; contextTokens: number }): Promise<EditCalls> {
  const work = editWork(text, n);
  const scenes = parseText(text).scenes;
  return {
    summary: work.summaries,
    outline: await outlineCallsFor(scenes, outline.route, outline.contextTokens),
    sheet: work.sheets,
    // One scene's input is far within a request's inputs and tokens.
    embedding: Math.ceil(work.embeddings / MAX_INPUTS_PER_REQUEST),
    embeddingInputs: work.embeddings,
  };
}

const EDIT_CALLS_TARGET = "the simulator received exactly the edit's calls (its summary, the outline, its speakers' sheets, one embedding request of one input)";

/**
 * S1.4's work target: what the simulator received during the run (its own per-purpose counts)
 * equals the calls the edit requires — no more (a regression re-embedding every scene or
 * regenerating other sheets would hide under the outline's latency in the wall target), no less,
 * and no request of any other purpose.
 */
export function editTargets(expected: EditCalls, sim: Pick<SimDelta, 'byPurpose' | 'embeddingInputs'>): { what: string; value: string; met: boolean } {
  const want: Record<string, number> = { summary: expected.summary, outline: expected.outline, sheet: expected.sheet, embedding: expected.embedding };
  const got = (p: string) => sim.byPurpose[p] ?? 0;
  const purposes = [...Object.keys(want), ...Object.keys(sim.byPurpose).filter((p) => !(p in want)).sort()];
  const parts = purposes.map((p) => ({ label: p, got: got(p), want: want[p] ?? 0 }));
  parts.push({ label: 'embedding inputs', got: sim.embeddingInputs, want: expected.embeddingInputs });
  const off = parts.filter((x) => x.got !== x.want);
  return {
    what: EDIT_CALLS_TARGET,
    value: off.length ? off.map((x) => `${x.label} ${x.got} (expected ${x.want})`).join(', ') : `as expected: ${parts.map((x) => `${x.label} ${x.want}`).join(', ')}`,
    met: off.length === 0,
  };
}

/** The synthetic script with one scene's action line changed. */
export function editScene(text: string, sceneNumber: number): string {
  const re = new RegExp(`( in scene ${sceneNumber})( \\([^)]*\\))?\\.`);
  if (!re.test(text)) throw new Error(`scene ${sceneNumber} not found in the synthetic script`);
  return text.replace(re, '$1$2, and the lights go out.');
}

/** A measured run's row: statements and commits from the wire, the app's own accounting in the notes. */
export function measuredRow(id: string, label: string, m: IngestMeasure, boundMs: number, notes: string[] = []): Row {
  return {
    id,
    label,
    wallMs: m.wallMs,
    boundMs,
    llmCalls: m.sim.requests,
    rateLimited: m.sim.rateLimited,
    dbQueries: m.wire.statements,
    dbCommits: m.wire.commits,
    historyEvents: m.chain.totalEvents,
    overhead: overheadCell(llmOverhead(m.chain, m.draws)),
    notes: [
      ...(m.result.status === 'completed' ? [] : [`status ${m.result.status}`]),
      ...notes,
      ...(m.db ? [`run_db_stats ${m.db.queries} q / ${m.db.commits} c`] : []),
    ],
  };
}

/** Mean drawn provider time per LLM activity type, for the profile line. */
function providerMs(m: IngestMeasure) {
  const d = drawnByPurpose(m.draws);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const out: Record<string, number> = {};
  for (const [type, xs] of [['summarizeScene', d.summary], ['writeOutline', d.outline], ['generateCharacterSheet', d.sheet]] as const) {
    const v = mean(xs);
    if (v !== undefined) out[type] = v;
  }
  return out;
}

/** S1's targets (defined at time scale 1), declared before the run: a failure reports each one it did not reach as missed. */
export function s1Targets(pairs: number) {
  return {
    bound: { row: 'S1.2', what: 'wall ≤ 1.03 × bound' },
    floor: { row: 'S1.2', what: 'wall ≤ 1.03 × row 5 (floor)' },
    peer: { row: 'S1.2', what: `not slower than the DBOS peer (row 6): the median of ${pairs} pair${pairs === 1 ? '' : 's'}, storyloom − peer` },
    statements: { row: 'S1.2', what: '≤ 30 DB statements (all the app sent, on the wire)' },
    rerun: { row: 'S1.3', what: 'wall < 1 s with 0 provider calls' },
    edit: { row: 'S1.4', what: 'wall ≤ summary + max(outline, affected sheets, one embedding request) + 1 s' },
    editCalls: { row: 'S1.4', what: EDIT_CALLS_TARGET },
  };
}

export async function runS1(ctx: ScenarioCtx & { progress?: ScenarioProgress }): Promise<ScenarioReport> {
  const ts = ctx.timeScale;
  const lat = SEED_LATENCY;
  const app = await startBenchApp(ctx.env, 's1', { timeScale: ts, jitter: ctx.jitter, latency: { default: { fixedMs: 0 }, byPurpose: lat } });
  try {
    await warmUp(ctx.env, app, `s1 ${ctx.runTag}`);
    const db = app.services.db;
    // Filled as it goes: a failure midway keeps the rows, targets and details measured so far.
    const { rows, targets, profile, details } = ctx.progress ?? newProgress();
    Object.assign(details, { timeScale: ts, jitter: ctx.jitter, latency: lat, scenes: SCENES, characters: CHARACTERS });
    const T = s1Targets(Math.max(1, ctx.pairs));
    declareTargets(targets, Object.values(T));

    // Row 1: every flag off.
    ctx.log(`S1 row 1: every flag off (bound ≈ ${SECONDS(sequentialBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, ts))})`);
    const title1 = `S1 row 1 ${ctx.runTag}`;
    const text1 = syntheticScreenplay({ title: title1, scenes: SCENES, characters: CHARACTERS, salt: title1 });
    const s1 = await importText(db, text1, { title: title1 });
    const m1 = await measureIngest(ctx.env, app, { scriptId: s1.scriptId, mode: 'full', flags: ALL_OFF });
    const w1 = definedWork(text1);
    const b1 = drawnIngestionBound(lat, drawnByPurpose(m1.draws), w1, SEQUENTIAL, ts);
    rows.push(measuredRow('S1.1', 'every flag off', m1, b1.ms, missingNotes(b1)));
    profile.push(profileLine('S1.1', m1.chain, providerMs(m1)), timelineLine('S1.1', m1.chain));
    details.row1 = { work: w1, bound: b1, appWork: workOf(m1.result, m1.sim), result: m1.result, sim: m1.sim, history: m1.chain, db: m1.db, wire: m1.wire, draws: m1.draws };

    // Row 2: defaults on a fresh script (row 1 had the cache off, so it filled nothing; the salt differs anyway).
    const title2 = `S1 row 2 ${ctx.runTag}`;
    const text2 = syntheticScreenplay({ title: title2, scenes: SCENES, characters: CHARACTERS, salt: title2 });
    const s2 = await importText(db, text2, { title: title2 });
    ctx.log(`S1 row 2: defaults, cold cache (bound ≈ ${SECONDS(ingestionBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, DEFAULTS, ts))})`);
    const m2 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'full' });
    const w2 = definedWork(text2);
    const bound2 = drawnIngestionBound(lat, drawnByPurpose(m2.draws), w2, DEFAULTS, ts);
    const b2 = bound2.ms;
    const r2 = measuredRow('S1.2', 'defaults, cold cache', m2, b2, missingNotes(bound2));
    rows.push(r2);
    profile.push(profileLine('S1.2', m2.chain, providerMs(m2)), timelineLine('S1.2', m2.chain));
    details.row2 = { work: w2, bound: bound2, appWork: workOf(m2.result, m2.sim), result: m2.result, sim: m2.sim, history: m2.chain, db: m2.db, wire: m2.wire, draws: m2.draws };
    settleTarget(targets, { ...T.bound, value: `${(m2.wallMs / b2).toFixed(3)}×`, met: m2.wallMs <= 1.03 * b2 });
    const statementsTarget = (peer?: number | null) => ({ ...T.statements, value: `${m2.wire.statements}${peer !== undefined ? ` (peer ${peer})` : ''}`, met: m2.wire.statements <= 30 });
    settleTarget(targets, statementsTarget());

    // Row 3: the same again on the unchanged script, as a default re-run does (partial: a full run redoes every call).
    ctx.log('S1 row 3: row 2 again, unchanged script (bound 0)');
    const m3 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'partial' });
    rows.push(measuredRow('S1.3', 'row 2 again, unchanged', m3, 0, [`${m3.result.phases.summaries.reused} summaries reused`]));
    profile.push(profileLine('S1.3', m3.chain), timelineLine('S1.3', m3.chain));
    details.row3 = { result: m3.result, sim: m3.sim, history: m3.chain, db: m3.db, wire: m3.wire };
    settleTarget(targets, { ...T.rerun, value: `${SECONDS(m3.wallMs)}, ${m3.sim.requests} calls`, met: m3.wallMs < 1000 && m3.sim.requests === 0 });

    // Row 4: one scene edited, re-imported, partial ingestion.
    const edited = editScene(text2, EDITED_SCENE);
    const reimport = await importText(db, edited, { title: title2, scriptId: s2.scriptId });
    ctx.log(`S1 row 4: scene ${EDITED_SCENE} edited (${reimport.changedScenes} changed scene), partial ingestion`);
    const m4 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'partial' });
    const w4 = editWork(edited, EDITED_SCENE);
    const bound4 = drawnIngestionBound(lat, drawnByPurpose(m4.draws), w4, DEFAULTS, ts);
    const b4 = bound4.ms;
    const affected = w4.sheets;
    const app4 = workOf(m4.result, m4.sim);
    const expected4 = await expectedEditCalls(edited, EDITED_SCENE, outlineConfig(app));
    rows.push(measuredRow('S1.4', `scene ${EDITED_SCENE} edited, partial`, m4, b4, [
      `${w4.summaries} summary, ${affected} affected sheets, ${w4.embeddings} embedding`,
      ...(app4.summaries !== w4.summaries || app4.sheets !== w4.sheets ? [`app made ${app4.summaries} summaries, ${app4.sheets} sheets`] : []),
      ...missingNotes(bound4),
    ]));
    profile.push(profileLine('S1.4', m4.chain, providerMs(m4)), timelineLine('S1.4', m4.chain));
    details.row4 = { changedScenes: reimport.changedScenes, affectedSheets: affected, work: w4, expectedCalls: expected4, bound: bound4, appWork: app4, result: m4.result, sim: m4.sim, history: m4.chain, db: m4.db, wire: m4.wire, draws: m4.draws };
    // Row 4's bound is already one summary + max(outline, the affected sheets, one embedding request), drawn.
    settleTarget(targets, { ...T.edit, value: `${SECONDS(m4.wallMs)} vs ${SECONDS(b4 + 1000)}`, met: m4.wallMs <= b4 + 1000 });
    settleTarget(targets, { row: T.editCalls.row, ...editTargets(expected4, m4.sim) });

    // Row 5: the floor — row 2's calls without Temporal or a database.
    ctx.log('S1 row 5: the same calls from a bare script with a limiter (the floor)');
    const window5 = await workWindow(ctx.env, app);
    const before = app.sim.stats();
    const floor = await floorIngestion(app.config, parseText(text2), title2, DEFAULT_CONCURRENCY);
    const after = app.sim.stats();
    const { draws: draws5 } = await window5.end();
    const bound5 = drawnIngestionBound(lat, drawnByPurpose(draws5), w2, DEFAULTS, ts);
    // Draws are a hash of each request: the floor's identical prompts draw row 2's latencies.
    const total = (ds: { purpose: string; ms: number }[]) => Object.entries(drawnByPurpose(ds)).map(([p, xs]) => `${p}:${xs.length}:${Math.round(xs.reduce((a: number, b: number) => a + b, 0))}`).join(' ');
    const sameDraws = total(draws5) === total(m2.draws);
    const r5: Row = {
      id: 'S1.5',
      label: 'floor: bare script + limiter',
      wallMs: floor.wallMs,
      boundMs: bound5.ms,
      llmCalls: after.totalRequests - before.totalRequests,
      rateLimited: after.rateLimited - before.rateLimited,
      dbQueries: null,
      dbCommits: null,
      historyEvents: null,
      notes: [`summaries ${SECONDS(floor.summariesMs)}, phase 2 ${SECONDS(floor.phase2Ms)}`, sameDraws ? 'same drawn latencies as row 2' : 'drawn latencies differ from row 2'],
    };
    rows.push(r5);
    settleTarget(targets, { ...T.floor, value: `${(m2.wallMs / floor.wallMs).toFixed(3)}×`, met: m2.wallMs <= 1.03 * floor.wallMs });
    details.row5 = { ...floor, bound: bound5, draws: draws5 };
    r2.notes.push(`row2/row5 ${(m2.wallMs / floor.wallMs).toFixed(3)}`, `summaries ${SECONDS(m2.result.timingsMs.summaries)}, phase 2 ${SECONDS(m2.result.timingsMs.phase2)}`);
    rows[0].notes.push(`summaries ${SECONDS(m1.result.timingsMs.summaries)}, phase 2 ${SECONDS(m1.result.timingsMs.phase2)}`);

    // Row 6: the peer — row 2's script again (same prompts, so the same drawn latencies) on DBOS Transact.
    ctx.log('S1 row 6: the same pipeline on DBOS Transact (the peer)');
    const peer = createDbosPeer(ctx.env.appDatabaseUrl, {
      config: app.config,
      db,
      repo: new IngestionRepository(db),
      llm: app.services.llm,
      concurrency: DEFAULT_CONCURRENCY,
      flushRecorders: () => app.services.flushRecorders(),
    });
    const runPeer = async () => {
      await peer.launch();
      try {
        const s6 = await importText(db, text2, { title: title2 });
        const window6 = await workWindow(ctx.env, app);
        const before6 = app.sim.stats();
        const t6 = performance.now();
        const done = await peer.ingest(s6.scriptId);
        const t6end = performance.now();
        const after6 = app.sim.stats();
        const { wire, draws } = await window6.end();
        return { wallMs: t6end - t6, span: runSpan(t6, t6end), done, wire, draws, requests: after6.totalRequests - before6.totalRequests, rateLimited: after6.rateLimited - before6.rateLimited };
      } finally {
        await peer.shutdown();
      }
    };
    const p6 = await runPeer();
    const bound6 = drawnIngestionBound(lat, drawnByPurpose(p6.draws), w2, DEFAULTS, ts);
    // The peer keeps storyloom's run bookkeeping: its run row and a report over its calls.
    const [peerRun] = await db.query<{ status: string; calls: number | null }[]>(
      `SELECT r.status, (p.report -> 'totals' ->> 'calls')::int AS calls
         FROM ingestion_runs r LEFT JOIN run_reports p ON p.workflow_id = r.workflow_id WHERE r.workflow_id = $1`,
      [p6.done.workflowId],
    );
    const r6: Row = {
      id: 'S1.6',
      label: 'peer: DBOS Transact 5.3.0',
      wallMs: p6.wallMs,
      boundMs: bound6.ms,
      llmCalls: p6.requests,
      rateLimited: p6.rateLimited,
      dbQueries: p6.wire.statements,
      dbCommits: p6.wire.commits,
      historyEvents: null,
      notes: [
        `${p6.done.summaries} summaries, ${p6.done.sheets} sheets, ${p6.done.embedded} embedded; statements include DBOS's own (workflow status, a checkpoint per step)`,
        `run row ${peerRun?.status ?? 'missing'}, its report counts ${peerRun?.calls ?? 'no'} calls`,
        ...missingNotes(bound6),
      ],
    };
    details.row6 = { wallMs: p6.wallMs, bound: bound6, wire: p6.wire, draws: p6.draws, result: p6.done };
    rows.push(r6);
    settleTarget(targets, statementsTarget(r6.dbQueries));
    r2.notes.push(`row2/row6 ${(m2.wallMs / p6.wallMs).toFixed(3)}`);

    // More storyloom/peer pairs on row 2's script, in alternating order: one pair's difference
    // is within the run-to-run spread, so "not slower" is judged on the median pair.
    const pairs = [{ storyloomMs: m2.wallMs, peerMs: p6.wallMs }];
    // Each run's wall split at its calls (phases.ts): which phase storyloom's difference is in.
    const spansOf = (run: { draws: IngestMeasure['draws']; span: IngestMeasure['span'] }) => phaseSpans(run.draws, run.span, ['summary']);
    const phasePairs = [{ a: spansOf(m2), b: spansOf(p6) }];
    // A freed summary slot's idle time, each run's median: the per-round cost behind the gap.
    const handoffOf = (run: { draws: IngestMeasure['draws'] }) => median(slotHandoffs(run.draws, ['summary']));
    const ms1 = (ms: number) => ms.toFixed(1);
    const handoffs = { storyloom: [handoffOf(m2)], peer: [handoffOf(p6)] };
    for (let i = 2; i <= ctx.pairs; i++) {
      ctx.log(`S1 pair ${i} of ${ctx.pairs}: row 2 and row 6 again, ${i % 2 === 0 ? 'the peer first' : 'storyloom first'}`);
      const runStoryloom = async () => {
        const again = await importText(db, text2, { title: title2 });
        return measureIngest(ctx.env, app, { scriptId: again.scriptId, mode: 'full' });
      };
      let storyloomRun: IngestMeasure;
      let peerRun: Awaited<ReturnType<typeof runPeer>>;
      if (i % 2 === 0) {
        peerRun = await runPeer();
        storyloomRun = await runStoryloom();
      } else {
        storyloomRun = await runStoryloom();
        peerRun = await runPeer();
      }
      pairs.push({ storyloomMs: storyloomRun.wallMs, peerMs: peerRun.wallMs });
      phasePairs.push({ a: spansOf(storyloomRun), b: spansOf(peerRun) });
      handoffs.storyloom.push(handoffOf(storyloomRun));
      handoffs.peer.push(handoffOf(peerRun));
    }
    const pairing = comparePairs(pairs);
    if (pairs.length > 1) r6.notes.push(`pairs (storyloom / peer): ${pairs.map((p) => `${SECONDS(p.storyloomMs)} / ${SECONDS(p.peerMs)}`).join(', ')}`);
    const byPhase = comparePhases(phasePairs);
    // The summaries' critical path: one slot's chain of ceil(scenes / window) calls.
    const chainRounds = Math.ceil(SCENES / DEFAULT_CONCURRENCY.summaries);
    profile.push(
      `S1.2 − S1.6 by phase, the median of ${phasePairs.length} pair${phasePairs.length === 1 ? '' : 's'} (phases.ts: split at the calls the simulator saw): ` +
        `start → first summary ${signedMs(byPhase.toFirstCall)}, summaries ${signedMs(byPhase.phase1)} (${signedMs(byPhase.phase1 / chainRounds)} per round of the ${chainRounds} on a slot's chain), ` +
        `last summary → phase 2 ${signedMs(byPhase.handover)}, phase 2 ${signedMs(byPhase.phase2)}, last answer → result ${signedMs(byPhase.toResult)}; ` +
        `a freed summary slot → its next request (phases.ts, each run's median): storyloom ${handoffs.storyloom.map(ms1).join(', ')} ms, the peer ${handoffs.peer.map(ms1).join(', ')} ms`,
    );
    details.pairs = { pairs, ...pairing, phases: phasePairs, byPhase, slotHandoffMs: handoffs };

    // What a bare Temporal activity round costs here (bench/temporal-round.ts): the peer has no such hop.
    ctx.log('S1: a bare Temporal activity round on this server (no storyloom code)');
    const rounds = await measureTemporalRounds(ctx.env, ctx.runTag, [{ rounds: 50, waitMs: 0 }, { rounds: 20, waitMs: 500 }]);
    profile.push(`S1 bare Temporal activity round: ${roundLine(rounds)}`);
    details.temporalRounds = rounds;

    settleTarget(targets, {
      ...T.peer,
      value: `${signedSeconds(pairing.medianDiffMs)} (${pairs.map((p) => signedSeconds(p.storyloomMs - p.peerMs)).join(', ')}; storyloom faster in ${pairing.storyloomFaster} of ${pairs.length})`,
      met: pairing.medianDiffMs <= 0,
    });
    return { rows, targets, profile, details };
  } finally {
    await app.stop();
  }
}
