/**
 * Lower bounds computed from the simulator's latency model and the run's configuration: what
 * the provider calls alone take when nothing else (Temporal, the database, the network) costs
 * anything. Every bound is in ms of wall time at the given time scale.
 */
import type { LatencySpec } from '../src/llm/simulator';
import { MAX_INPUTS_PER_REQUEST } from '../src/domain/ingestion/embedding-batches';

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
   * Outline calls one after another: 0 (none), 1, or 2 when the summaries exceed the outline
   * context and it is made by sections (all sections at once, then one over them).
   */
  outline: number;
  sheets: number;
  /** Scenes to embed. */
  embeddings: number;
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
