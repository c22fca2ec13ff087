/**
 * Lower bounds computed from the simulator's latency model and the run's configuration: what
 * the provider calls alone take when nothing else (Temporal, the database, the network) costs
 * anything. Every bound is in ms of wall time at the given time scale.
 */
import type { LatencySpec } from '../src/llm/simulator';
import { complete } from '../src/llm/simulator/completion';
import { lastUserText } from '../src/llm/simulator/text';
import { embeddingBatches, estimateTokens, MAX_INPUTS_PER_REQUEST } from '../src/domain/ingestion/embedding-batches';
import { sceneSummaryPrompt } from '../src/domain/ingestion/prompts';
import { localCounter } from '../src/llm/token-counter';
import type { Provider } from '../src/shared/llm-routing';

/** The seed's latencies (003): summary 2 s, outline 5 s, sheet 3 s, embeddings 0.5 s + 15 ms per input. */
export const SEED_LATENCY = {
  summary: { fixedMs: 2000 },
  outline: { fixedMs: 5000 },
  sheet: { fixedMs: 3000 },
  embedding: { fixedMs: 500, perInputMs: 15 },
} satisfies Record<string, LatencySpec>;

export type LatencyModel = typeof SEED_LATENCY;

/** What one run has to make. */
export interface Work {
  summaries: number;
  /**
   * Outline calls, one after another: 0 (none), 1, or — when the summaries exceed the outline
   * context and it is made by sections — one call per section, one section after another (the
   * activity holds one provider slot), then one over the sections (`outlineCallsFor`).
   */
  outline: number;
  sheets: number;
  /** Scenes to embed. */
  embeddings: number;
}

/**
 * How many outline calls a full ingestion of these scenes (in script order) needs, as the app
 * defines the outline (src/activities/analysis.activities.ts, writeOutline): the summaries'
 * lines ("heading: summary") split into sections within the outline model's context by the
 * domain's `embeddingBatches`, counted as its `batchCounter` counts them (the route's local
 * tokenizer once the estimate could come near the budget), one call per section, one after
 * another, then one over the section outlines; one call when they fit. The summaries are what
 * the simulator answers each scene's summary prompt, a pure function of the prompt (`complete`):
 * so the count follows from the script the scenario wrote, never from the calls the app made.
 */
export async function outlineCallsFor(
  scenes: readonly { heading: string; text: string }[],
  route: { provider: Provider; model: string },
  contextTokens: number,
): Promise<number> {
  const lines = scenes.map((scene, position) => {
    const prompt = sceneSummaryPrompt({ position, heading: scene.heading, text: scene.text });
    return `${scene.heading}: ${complete(lastUserText(prompt.messages), { kind: 'text' }, prompt.maxTokens).text.trim()}`;
  });
  const estimated = lines.reduce((n, line) => n + estimateTokens(line), 0);
  const countTokens = estimated <= contextTokens / 4 ? undefined : (await localCounter(route.provider, route.model)).count;
  const sections = embeddingBatches(lines, (line) => line, { maxInputs: Infinity, maxTokens: contextTokens, countTokens }).length;
  return sections <= 1 ? 1 : sections + 1;
}

export interface Parallelism {
  summaries: number;
  sheets: number;
  /** One request per ≤ 2,048 inputs (else one per scene). */
  batchEmbeddings: boolean;
  /** Outline ∥ sheets ∥ embeddings (else one after another). */
  parallelPhase2: boolean;
}

export const chatMs = (spec: LatencySpec) => spec.fixedMs;
export const embedRequestMs = (spec: LatencySpec, inputs: number) => spec.fixedMs + (spec.perInputMs ?? 0) * inputs;

/** Embedding time: requests one after another (as the activity makes them). */
export function embeddingsMs(lat: LatencyModel, scenes: number, batch: boolean): number {
  if (scenes === 0) return 0;
  if (!batch) return scenes * embedRequestMs(lat.embedding, 1);
  let ms = 0;
  for (let left = scenes; left > 0; left -= MAX_INPUTS_PER_REQUEST) ms += embedRequestMs(lat.embedding, Math.min(left, MAX_INPUTS_PER_REQUEST));
  return ms;
}

/**
 * ceil(N/c)·t for summaries (fixed latency: a sliding window finishes in as many "rounds"),
 * then phase 2: outline, ceil(C/c)·t for sheets and the embedding requests, in parallel (max)
 * or one after another (sum).
 */
export function ingestionBoundMs(lat: LatencyModel, work: Work, p: Parallelism, timeScale: number): number {
  const rounds = (n: number, c: number) => (n === 0 ? 0 : Math.ceil(n / Math.max(1, c)));
  const summaries = rounds(work.summaries, p.summaries) * chatMs(lat.summary);
  const outline = work.outline * chatMs(lat.outline);
  const sheets = rounds(work.sheets, p.sheets) * chatMs(lat.sheet);
  const embeddings = embeddingsMs(lat, work.embeddings, p.batchEmbeddings);
  const phase2 = p.parallelPhase2 ? Math.max(outline, sheets, embeddings) : outline + sheets + embeddings;
  return (summaries + phase2) * timeScale;
}

/** Sum of every call's latency (nothing overlaps). */
export function sequentialBoundMs(lat: LatencyModel, work: Work, timeScale: number): number {
  return ingestionBoundMs(lat, work, { summaries: 1, sheets: 1, batchEmbeddings: false, parallelPhase2: false }, timeScale);
}

/** Provider call-time of one ingestion on a chat provider (all chat purposes), in ms. */
export function chatCallMs(lat: LatencyModel, work: Work, outlineCalls: number, timeScale: number): number {
  return (work.summaries * chatMs(lat.summary) + outlineCalls * chatMs(lat.outline) + work.sheets * chatMs(lat.sheet)) * timeScale;
}

/**
 * The latencies the simulator drew for one run's calls, by purpose, in the order it admitted
 * them (ms, time scale applied). Bounds from draws replace the model's constants: with jitter,
 * a window of c slots finishes when its greedy schedule of the drawn latencies does.
 */
export interface DrawnLatencies {
  summary: number[];
  outline: number[];
  sheet: number[];
  embedding: number[];
  synthesis: number[];
}

export function drawnByPurpose(draws: readonly { purpose: string; ms: number }[]): DrawnLatencies {
  const out: DrawnLatencies = { summary: [], outline: [], sheet: [], embedding: [], synthesis: [] };
  for (const d of draws) if (d.purpose in out) out[d.purpose as keyof DrawnLatencies].push(d.ms);
  return out;
}

/** When `c` slots take jobs in order (each the moment a slot frees), the time the last one ends. */
export function makespan(latencies: readonly number[], slots: number): number {
  const c = Math.max(1, slots);
  if (latencies.length <= c) return Math.max(0, ...latencies);
  const free = latencies.slice(0, c);
  for (const ms of latencies.slice(c)) {
    let i = 0;
    for (let j = 1; j < c; j++) if (free[j] < free[i]) i = j;
    free[i] += ms;
  }
  return Math.max(...free);
}

/**
 * The `n` latencies the work needs: the drawn ones first (calls beyond `n` — retries, extra
 * calls — are the app's cost, not the bound's), then the model's mean for calls the app did not
 * make. `missing` counts those, so a report can say the app did less than the scenario defines.
 */
export function take(drawn: readonly number[], n: number, meanMs: number): { ms: number[]; missing: number } {
  const ms = drawn.slice(0, n);
  const missing = Math.max(0, n - ms.length);
  for (let i = 0; i < missing; i++) ms.push(meanMs);
  return { ms, missing };
}

export interface DrawnBound {
  ms: number;
  summariesMs: number;
  phase2Ms: number;
  /** Calls the scenario defines that the simulator never saw (filled with the model's mean). */
  missing: Record<'summary' | 'outline' | 'sheet' | 'embedding', number>;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * The bound of `work` from the drawn latencies: summaries through a window of
 * `p.summaries` slots, then outline calls one after another, sheets through `p.sheets` slots and
 * the embedding requests one after another — in parallel (max) or in sequence (sum). `embeddingRequests`
 * is how many requests the work's embeddings take (one per ≤ 2,048 inputs when batched).
 */
export function drawnIngestionBound(lat: LatencyModel, drawn: DrawnLatencies, work: Work, p: Parallelism, timeScale: number): DrawnBound {
  const requests = work.embeddings === 0 ? 0 : p.batchEmbeddings ? Math.ceil(work.embeddings / MAX_INPUTS_PER_REQUEST) : work.embeddings;
  const perRequestInputs = requests ? work.embeddings / requests : 0;
  const s = take(drawn.summary, work.summaries, chatMs(lat.summary) * timeScale);
  const o = take(drawn.outline, work.outline, chatMs(lat.outline) * timeScale);
  const c = take(drawn.sheet, work.sheets, chatMs(lat.sheet) * timeScale);
  const e = take(drawn.embedding, requests, embedRequestMs(lat.embedding, perRequestInputs) * timeScale);
  const summariesMs = makespan(s.ms, p.summaries);
  const parts = [sum(o.ms), makespan(c.ms, p.sheets), sum(e.ms)];
  const phase2Ms = p.parallelPhase2 ? Math.max(...parts) : sum(parts);
  return { ms: summariesMs + phase2Ms, summariesMs, phase2Ms, missing: { summary: s.missing, outline: o.missing, sheet: c.missing, embedding: e.missing } };
}

/** What one stories run (S4) has to make. */
export interface StoriesWork {
  /** Articles to embed (one request per ≤ 2,048). */
  embeddingInputs: number;
  /** Clusters to synthesise. */
  syntheses: number;
}

export interface DrawnStoriesBound {
  ms: number;
  embeddingMs: number;
  synthesisMs: number;
  /** Calls the scenario defines that the simulator never saw (filled with the model's mean). */
  missing: Record<'embedding' | 'synthesis', number>;
}

/**
 * The bound of a stories run from the drawn latencies: its embedding requests one after another
 * (clustering needs every vector), then the syntheses through a window of `window` slots in the
 * order the simulator admitted them (window 1: their sum). With no draws it is the model's
 * ceil(syntheses / window) rounds.
 */
export function drawnStoriesBound(
  lat: { embedding: LatencySpec; synthesis: LatencySpec },
  drawn: DrawnLatencies,
  work: StoriesWork,
  window: number,
  timeScale: number,
): DrawnStoriesBound {
  const requests = Math.ceil(work.embeddingInputs / MAX_INPUTS_PER_REQUEST);
  const e = take(drawn.embedding, requests, requests ? embedRequestMs(lat.embedding, work.embeddingInputs / requests) * timeScale : 0);
  const s = take(drawn.synthesis, work.syntheses, chatMs(lat.synthesis) * timeScale);
  const embeddingMs = sum(e.ms);
  const synthesisMs = makespan(s.ms, window);
  return { ms: embeddingMs + synthesisMs, embeddingMs, synthesisMs, missing: { embedding: e.missing, synthesis: s.missing } };
}
