/**
 * S5 (seed 002): a screenplay from a 300-word plot and 5 personas, max_tokens 3072, the
 * simulator streaming at 150 tokens/s after an 800 ms first byte (× --time-scale), as the
 * CLI runs it (listening on the run's channel before the start).
 *   1  the seed's "before": one query per persona, no streaming, story/version/cast committed separately
 *   2  defaults: one persona query, streamed, one transaction
 *   3  defaults with --variants 3
 * Latencies are drawn with --jitter like every other scenario's. Bound: the persona query (the
 * bench's own, timed here) plus what the simulator drew for the run: the token count's request,
 * then the variants' generations (first byte + every token it sent at the rate, × the draw)
 * through the workflow's window of variants in flight. Time to first token is measured where
 * the CLI prints it, against the first byte the simulator drew.
 */
import { randomUUID } from 'node:crypto';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { subscribeToStream } from '../../src/db/stream-channel';
import { validatePersonaFile } from '../../src/domain/generation/personas';
import { DEFAULT_VARIANTS_IN_FLIGHT, screenplayWorkflowId, type GenerateScreenplayInput, type GenerateScreenplayResult } from '../../src/shared/screenplay';
import type { LatencyDraw } from '../../src/llm/simulator';
import { makespan, take } from '../bounds';
import { startBenchApp, type BenchApp, type BenchEnv } from '../env';
import { costOf, simDelta } from '../measure';
import { declareTargets, newProgress, settleTarget, type Row, type ScenarioProgress } from '../table';
import { SECONDS, type ScenarioCtx, type ScenarioReport } from './common';

const TOKENS_PER_SECOND = 150;
const FIRST_BYTE_MS = 800;
const COUNT_MS = 50;
const MAX_TOKENS = 3072;

const PERSONAS = validatePersonaFile([
  { name: 'Mara Quill', description: 'A ferry captain who has not missed a crossing in twenty years.', context: "Mara is weathered, dry and exact. She speaks in short sentences and hates waste. She carries her late brother's compass and checks it when she lies.", voice_notes: ['clipped, nautical'] },
  { name: 'Tobias Wren', description: 'A young engineer who talks to machines.', context: 'Tobias is nervous around people and fluent around engines. He narrates what he fixes.' },
  { name: 'Ines Calder', description: 'A customs officer with a secret debt.', context: 'Ines is charming and precise. She asks questions she already knows the answers to.' },
  { name: 'Old Harlan', description: 'A retired smuggler who sells tea on the pier.', context: 'Harlan speaks in proverbs of his own invention and remembers every storm since 1961.' },
  { name: 'Juno Park', description: "A radio host broadcasting from the ferry's galley.", context: 'Juno fills silence with trivia and signs off every segment with a weather report.' },
]);

/** 300 words. */
export const S5_PLOT = [
  'On the last night ferry of the season, captain Mara Quill finds a sealed crate that is not on the manifest.',
  'The engineer Tobias Wren hears something ticking inside it and begs her to turn back before the weather turns.',
  'Customs officer Ines Calder boards at the midway buoy and asks about the crate before anyone has mentioned it.',
  'Old Harlan, selling tea on the pier, remembers a storm in 1961 when another crate went overboard and a whole town went quiet for a year.',
  'Juno Park broadcasts the crossing from the galley and reads the weather as if it were a confession.',
  'The fog closes in, the radio dies, and the ferry drifts between two lights that should not both be there.',
  "Mara checks her brother's compass and lies to Ines about the course, and Ines pretends to believe her.",
  'Tobias opens the crate with a borrowed wrench and finds an old transmitter, its valves still warm, sending a signal nobody taught him.',
  'Ines admits she is paid to collect the crate, and that her debt will be cleared the moment it reaches the harbour.',
  'Harlan, listening on the pier, recognises the signal as the one that called the boats out in 1961.',
  'Juno puts the signal on air so that every boat in the bay can hear it, against Mara\'s orders.',
  'Boats answer from the fog one by one, horns and lamps and voices, and guide the ferry through the rocks.',
  'At the pier Ines lets the crate slide into the harbour and tells her employer it was lost at sea.',
  'Mara marks the crossing in her log as uneventful, then tears the page out and gives it to Harlan.',
  'Tobias keeps one valve from the transmitter in his pocket and listens to it hum when the town sleeps.',
  'Juno signs off with the weather: clear skies, a calm sea, and for once no need for anyone to come looking.',
  'In the morning the harbour is full of boats that have not sailed together in sixty years.',
].join(' ');

/** S5's targets, declared before the first row: a failure reports each as missed. */
const TARGETS = {
  personaQueries: { row: 'S5.2', what: 'persona queries = 1' },
  saveCommits: { row: 'S5.2', what: 'save commits = 1' },
  firstToken: { row: 'S5.2', what: 'first token at the CLI ≤ the drawn first byte + 1 s (S5.1: the whole generation)' },
  wall: { row: 'S5.2', what: 'wall ≤ 1.1 × bound' },
  variants: { row: 'S5.3', what: "wall ≤ 1.1 × one variant's (S5.2)" },
};

export interface S5Bound {
  ms: number;
  countMs: number;
  generationMs: number;
  /** The first generation's drawn first byte (its draw's multiplier on the configured one): what the CLI can print first. */
  firstByteMs: number;
  /** Defined requests the simulator never saw (filled with the configured latency; a generation with its first byte only). */
  missing: { count: number; screenplay: number };
}

/**
 * A run's bound from what the simulator drew and sent (its draws carry each request's latency:
 * first byte plus the tokens it streamed at the rate, × the request's jitter): the persona query,
 * then the token count's request, then the first `variants` generations in the order the
 * simulator admitted them, through the workflow's window of variants in flight. Not from the
 * output tokens the app reports. The simulator's screenplay fits max_tokens, so a variant is one
 * generation: a further call (a continuation, a retry) is the app's cost, not the bound's.
 */
export function s5Bound(draws: readonly Pick<LatencyDraw, 'purpose' | 'ms' | 'meanMs'>[], variants: number, personaQueryMs: number, timeScale: number): S5Bound {
  const of = (purpose: string) => draws.filter((d) => d.purpose === purpose);
  const count = take(of('screenplay.count').map((d) => d.ms), 1, COUNT_MS * timeScale);
  const generations = of('screenplay');
  const gen = take(generations.map((d) => d.ms), variants, FIRST_BYTE_MS * timeScale);
  const countMs = count.ms.reduce((a, b) => a + b, 0);
  const generationMs = makespan(gen.ms, Math.min(variants, DEFAULT_VARIANTS_IN_FLIGHT));
  const first = generations[0];
  const firstByteMs = FIRST_BYTE_MS * timeScale * (first && first.meanMs > 0 ? first.ms / first.meanMs : 1);
  return { ms: personaQueryMs + countMs + generationMs, countMs, generationMs, firstByteMs, missing: { count: count.missing, screenplay: gen.missing } };
}

interface Measured {
  workflowId: string;
  firstRunId: string;
  result: GenerateScreenplayResult;
  wallMs: number;
  /** Start → first text delta heard on the run's channel (what the CLI prints first). */
  firstTokenMs: number | null;
  deltas: number;
}

async function generate(env: BenchEnv, app: BenchApp, input: GenerateScreenplayInput): Promise<Measured> {
  const workflowId = screenplayWorkflowId(randomUUID());
  const t0 = performance.now();
  let firstAt: number | undefined;
  let deltas = 0;
  const sub = await subscribeToStream(app.config.databaseUrl, workflowId, (e) => {
    if (e.type !== 'delta' || e.variant !== 0) return;
    firstAt ??= performance.now();
    deltas++;
  });
  try {
    const handle = await env.client.workflow.start<(i: GenerateScreenplayInput) => Promise<GenerateScreenplayResult>>('generateScreenplay', {
      taskQueue: app.taskQueue,
      workflowId,
      args: [input],
    });
    const result = await handle.result();
    const wallMs = performance.now() - t0;
    return { workflowId, firstRunId: handle.firstExecutionRunId, result, wallMs, firstTokenMs: firstAt === undefined ? null : firstAt - t0, deltas };
  } finally {
    await sub.close();
  }
}

export async function runS5(ctx: ScenarioCtx & { progress?: ScenarioProgress }): Promise<ScenarioReport> {
  const ts = ctx.timeScale;
  const { rows, targets, profile, details } = ctx.progress ?? newProgress();
  declareTargets(targets, Object.values(TARGETS));
  const latency = {
    default: { fixedMs: 0 },
    byPurpose: { screenplay: { fixedMs: FIRST_BYTE_MS, perOutputTokenMs: 1000 / TOKENS_PER_SECOND }, 'screenplay.count': { fixedMs: COUNT_MS } },
  };
  const app = await startBenchApp(ctx.env, 's5', { timeScale: ts, jitter: ctx.jitter, latency });
  try {
    const repo = new ScreenplayRepository(app.services.db);
    await repo.importPersonas(PERSONAS);
    const names = PERSONAS.map((p) => p.name);
    const base: GenerateScreenplayInput = { plot: S5_PLOT, personaNames: names, title: 'S5', maxTokens: MAX_TOKENS };
    // Warm-up at time scale 0: bundle loaded, pools and SDK connections open.
    app.sim.configure({ timeScale: 0 });
    await generate(ctx.env, app, { ...base, flags: { useCache: false } });
    app.sim.configure({ timeScale: ts });
    const q0 = performance.now();
    await repo.loadPersonas(names);
    const personaQueryMs = performance.now() - q0;

    Object.assign(details, { timeScale: ts, jitter: ctx.jitter, latency, tokensPerSecond: TOKENS_PER_SECOND, plotWords: S5_PLOT.split(/\s+/).length, personaQueryMs });

    const measure = async (id: string, label: string, input: GenerateScreenplayInput) => {
      ctx.log(`S5 ${id}: ${label}`);
      const before = app.sim.stats();
      const draw0 = app.sim.latencies().at(-1)?.seq ?? 0;
      const m = await generate(ctx.env, app, input);
      const sim = simDelta(before, app.sim.stats());
      const draws = app.sim.latencies(draw0);
      const bound = s5Bound(draws, input.variants ?? 1, personaQueryMs, ts);
      const { chain, db } = await costOf(ctx.env, app, m.workflowId, m.firstRunId);
      const v = m.result.variants[0];
      const row: Row = {
        id,
        label,
        wallMs: m.wallMs,
        boundMs: bound.ms,
        llmCalls: sim.requests,
        rateLimited: sim.rateLimited,
        dbQueries: db?.queries ?? null,
        dbCommits: db?.commits ?? null,
        historyEvents: chain.totalEvents,
        notes: [
          `first token at the CLI ${m.firstTokenMs === null ? 'n/a' : SECONDS(m.firstTokenMs)}`,
          `persona queries ${m.result.personaQueries}`,
          `save commits ${m.result.variants.map((x) => x.save.commits).join('+')}`,
          `${m.result.totals.outputTokens} tokens (${m.result.totals.tokensPerSecond ?? '—'}/s)`,
          `${m.deltas} deltas heard`,
          `drawn: count ${SECONDS(bound.countMs)}, generation ${SECONDS(bound.generationMs)} (first byte ${SECONDS(bound.firstByteMs)})`,
          ...Object.entries(bound.missing).filter(([, n]) => n > 0).map(([p, n]) => `${n} defined ${p} request(s) never reached the provider`),
        ],
      };
      rows.push(row);
      profile.push(`${id}: TTFT in the activity ${v.ttftMs} ms, generation ${v.durationMs} ms, prompt ${m.result.prompt.promptTokens} tokens (${m.result.prompt.countMethod}), cost $${m.result.totals.costUsd.toFixed(4)}`);
      details[id] = { ...m, sim, db, bound, draws, history: { totalEvents: chain.totalEvents } };
      return { ...m, bound };
    };

    const before = await measure('S5.1', 'seed "before": a query per persona, no streaming, separate writes', {
      ...base,
      flags: { batchPersonaLoad: false, stream: false, oneTransactionSave: false, useCache: false },
    });
    const defaults = await measure('S5.2', 'defaults (one query, streamed, one transaction)', { ...base, flags: { useCache: false } });
    const three = await measure('S5.3', 'defaults, --variants 3', { ...base, variants: 3, flags: { useCache: false } });

    const bound2 = defaults.bound.ms;
    const firstByte = defaults.bound.firstByteMs;
    for (const t of [
      { ...TARGETS.personaQueries, value: String(defaults.result.personaQueries), met: defaults.result.personaQueries === 1 },
      { ...TARGETS.saveCommits, value: String(defaults.result.variants[0].save.commits), met: defaults.result.variants[0].save.commits === 1 },
      {
        ...TARGETS.firstToken,
        value: `${defaults.firstTokenMs === null ? 'n/a' : SECONDS(defaults.firstTokenMs)} vs ${before.firstTokenMs === null ? 'n/a' : SECONDS(before.firstTokenMs)} (first byte drawn ${SECONDS(firstByte)})`,
        met: defaults.firstTokenMs !== null && defaults.firstTokenMs <= firstByte + 1000,
      },
      { ...TARGETS.wall, value: `${(defaults.wallMs / bound2).toFixed(3)}×`, met: defaults.wallMs <= 1.1 * bound2 },
      { ...TARGETS.variants, value: `${(three.wallMs / defaults.wallMs).toFixed(3)}×`, met: three.wallMs <= 1.1 * defaults.wallMs },
    ])
      settleTarget(targets, t);
    return { rows, targets, profile, details };
  } finally {
    await app.stop();
  }
}
