/**
 * S1 (seed 003): a 100-scene, 10-character script at the seed's latencies (summary 2 s,
 * outline 5 s, sheet 3 s, embeddings 0.5 s + 15 ms/input), × --time-scale.
 *   1  every flag off                              bound: the sum of every call
 *   2  defaults, cold cache (a fresh script)       bound: ceil(N/c)·t + max(outline, ceil(C/c)·t, embeddings)
 *   3  row 2 again, nothing changed                bound: 0 (no provider call needed)
 *   4  one scene edited, partial ingestion         bound: one summary + max(outline, affected sheets, one embedding request)
 *   5  row 2's calls from a bare script with a limiter (no Temporal, no database): the floor
 */
import { DEFAULT_CONCURRENCY, type IngestionFlags } from '../../src/shared/ingestion';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { embedRequestMs, ingestionBoundMs, SEED_LATENCY, sequentialBoundMs, type Parallelism } from '../bounds';
import { importText, parseText, startBenchApp } from '../env';
import { floorIngestion } from '../floor';
import { measureIngest, type IngestMeasure } from '../measure';
import type { Row, Target } from '../table';
import { profileLine, SECONDS, timelineLine, warmUp, workOf, type ScenarioCtx, type ScenarioReport } from './common';

const SCENES = 100;
const CHARACTERS = 10;
/** 1-based scene edited for row 4 (scene 49 has three speakers). */
const EDITED_SCENE = 49;

const ALL_OFF: IngestionFlags = { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: false };
const DEFAULTS: Parallelism = { summaries: DEFAULT_CONCURRENCY.summaries, sheets: DEFAULT_CONCURRENCY.sheets, batchEmbeddings: true, parallelPhase2: true };

/** The synthetic script with one scene's action line changed. */
export function editScene(text: string, sceneNumber: number): string {
  const re = new RegExp(`( in scene ${sceneNumber})( \\([^)]*\\))?\\.`);
  if (!re.test(text)) throw new Error(`scene ${sceneNumber} not found in the synthetic script`);
  return text.replace(re, '$1$2, and the lights go out.');
}

function row(id: string, label: string, m: IngestMeasure, boundMs: number, notes: string[] = []): Row {
  return {
    id,
    label,
    wallMs: m.wallMs,
    boundMs,
    llmCalls: m.sim.requests,
    rateLimited: m.sim.rateLimited,
    dbQueries: m.db?.queries ?? null,
    dbCommits: m.db?.commits ?? null,
    historyEvents: m.chain.totalEvents,
    notes: [...(m.result.status === 'completed' ? [] : [`status ${m.result.status}`]), ...notes],
  };
}

const providerMs = (ts: number) => ({
  summarizeScene: SEED_LATENCY.summary.fixedMs * ts,
  writeOutline: SEED_LATENCY.outline.fixedMs * ts,
  generateCharacterSheet: SEED_LATENCY.sheet.fixedMs * ts,
});

export async function runS1(ctx: ScenarioCtx): Promise<ScenarioReport> {
  const ts = ctx.timeScale;
  const lat = SEED_LATENCY;
  const app = await startBenchApp(ctx.env, 's1', { timeScale: ts, latency: { default: { fixedMs: 0 }, byPurpose: lat } });
  try {
    await warmUp(ctx.env, app, `s1 ${ctx.runTag}`);
    const db = app.services.db;
    const rows: Row[] = [];
    const targets: Target[] = [];
    const profile: string[] = [];
    const details: Record<string, unknown> = { timeScale: ts, latency: lat, scenes: SCENES, characters: CHARACTERS };

    // Row 1: every flag off.
    ctx.log(`S1 row 1: every flag off (bound ≈ ${SECONDS(sequentialBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, ts))})`);
    const title1 = `S1 row 1 ${ctx.runTag}`;
    const s1 = await importText(db, syntheticScreenplay({ title: title1, scenes: SCENES, characters: CHARACTERS, salt: title1 }), { title: title1 });
    const m1 = await measureIngest(ctx.env, app, { scriptId: s1.scriptId, mode: 'full', flags: ALL_OFF });
    const w1 = workOf(m1.result, m1.sim);
    const b1 = sequentialBoundMs(lat, w1, ts);
    rows.push(row('S1.1', 'every flag off', m1, b1));
    profile.push(profileLine('S1.1', m1.chain, providerMs(ts)), timelineLine('S1.1', m1.chain));
    details.row1 = { work: w1, result: m1.result, sim: m1.sim, history: m1.chain, db: m1.db };

    // Row 2: defaults on a fresh script (row 1 had the cache off, so it filled nothing; the salt differs anyway).
    const title2 = `S1 row 2 ${ctx.runTag}`;
    const text2 = syntheticScreenplay({ title: title2, scenes: SCENES, characters: CHARACTERS, salt: title2 });
    const s2 = await importText(db, text2, { title: title2 });
    ctx.log(`S1 row 2: defaults, cold cache (bound ≈ ${SECONDS(ingestionBoundMs(lat, { summaries: SCENES, outline: 1, sheets: CHARACTERS, embeddings: SCENES }, DEFAULTS, ts))})`);
    const m2 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'full' });
    const w2 = workOf(m2.result, m2.sim);
    const b2 = ingestionBoundMs(lat, w2, DEFAULTS, ts);
    const r2 = row('S1.2', 'defaults, cold cache', m2, b2);
    rows.push(r2);
    profile.push(profileLine('S1.2', m2.chain, providerMs(ts)), timelineLine('S1.2', m2.chain));
    details.row2 = { work: w2, result: m2.result, sim: m2.sim, history: m2.chain, db: m2.db };

    // Row 3: the same again on the unchanged script, as a default re-run does (partial: a full run redoes every call).
    ctx.log('S1 row 3: row 2 again, unchanged script (bound 0)');
    const m3 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'partial' });
    rows.push(row('S1.3', 'row 2 again, unchanged', m3, 0, [`${m3.result.phases.summaries.reused} summaries reused`]));
    profile.push(profileLine('S1.3', m3.chain), timelineLine('S1.3', m3.chain));
    details.row3 = { result: m3.result, sim: m3.sim, history: m3.chain, db: m3.db };

    // Row 4: one scene edited, re-imported, partial ingestion.
    const reimport = await importText(db, editScene(text2, EDITED_SCENE), { title: title2, scriptId: s2.scriptId });
    ctx.log(`S1 row 4: scene ${EDITED_SCENE} edited (${reimport.changedScenes} changed scene), partial ingestion`);
    const m4 = await measureIngest(ctx.env, app, { scriptId: s2.scriptId, mode: 'partial' });
    const w4 = workOf(m4.result, m4.sim);
    const b4 = ingestionBoundMs(lat, w4, DEFAULTS, ts);
    const affected = w4.sheets;
    rows.push(row('S1.4', `scene ${EDITED_SCENE} edited, partial`, m4, b4, [`${w4.summaries} summary, ${affected} affected sheets, ${w4.embeddings} embedding`]));
    profile.push(profileLine('S1.4', m4.chain, providerMs(ts)), timelineLine('S1.4', m4.chain));
    details.row4 = { changedScenes: reimport.changedScenes, affectedSheets: affected, work: w4, result: m4.result, sim: m4.sim, history: m4.chain, db: m4.db };

    // Row 5: the floor — row 2's calls without Temporal or a database.
    ctx.log('S1 row 5: the same calls from a bare script with a limiter (the floor)');
    const before = app.sim.stats();
    const floor = await floorIngestion(app.config, parseText(text2), title2, DEFAULT_CONCURRENCY);
    const after = app.sim.stats();
    const r5: Row = {
      id: 'S1.5',
      label: 'floor: bare script + limiter',
      wallMs: floor.wallMs,
      boundMs: b2,
      llmCalls: after.totalRequests - before.totalRequests,
      rateLimited: after.rateLimited - before.rateLimited,
      dbQueries: null,
      dbCommits: null,
      historyEvents: null,
      notes: [`summaries ${SECONDS(floor.summariesMs)}, phase 2 ${SECONDS(floor.phase2Ms)}`],
    };
    rows.push(r5);
    details.row5 = floor;
    r2.notes.push(`row2/row5 ${(m2.wallMs / floor.wallMs).toFixed(3)}`, `summaries ${SECONDS(m2.result.timingsMs.summaries)}, phase 2 ${SECONDS(m2.result.timingsMs.phase2)}`);
    rows[0].notes.push(`summaries ${SECONDS(m1.result.timingsMs.summaries)}, phase 2 ${SECONDS(m1.result.timingsMs.phase2)}`);

    // Targets (defined at time scale 1).
    targets.push(
      { row: 'S1.2', what: 'wall ≤ 1.03 × bound', value: `${(m2.wallMs / b2).toFixed(3)}×`, met: m2.wallMs <= 1.03 * b2 },
      { row: 'S1.2', what: 'wall ≤ 1.03 × row 5 (floor)', value: `${(m2.wallMs / floor.wallMs).toFixed(3)}×`, met: m2.wallMs <= 1.03 * floor.wallMs },
      { row: 'S1.3', what: 'wall < 1 s with 0 provider calls', value: `${SECONDS(m3.wallMs)}, ${m3.sim.requests} calls`, met: m3.wallMs < 1000 && m3.sim.requests === 0 },
    );
    const t4 =
      (lat.summary.fixedMs * w4.summaries + lat.outline.fixedMs * w4.outline + Math.ceil(affected / DEFAULT_CONCURRENCY.sheets) * lat.sheet.fixedMs +
        (w4.embeddings ? embedRequestMs(lat.embedding, w4.embeddings) : 0)) * ts + 1000;
    targets.push({ row: 'S1.4', what: 'wall ≤ summary + outline + affected sheets + one embedding request + 1 s', value: `${SECONDS(m4.wallMs)} vs ${SECONDS(t4)}`, met: m4.wallMs <= t4 });
    return { rows, targets, profile, details };
  } finally {
    await app.stop();
  }
}
