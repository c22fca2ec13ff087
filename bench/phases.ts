/**
 * Where a run's wall time goes, phase by phase, read from the provider calls the simulator saw
 * (when each wait began and how long it was): the same marks for storyloom and for its peer, so
 * the difference of two runs on the same drawn latencies says in which phase one is slower.
 */
import type { LatencyDraw } from '../src/llm/simulator';
import { median } from './pairs';

/** A run's start and end on the epoch clock (`performance.timeOrigin + performance.now()`). */
export interface RunSpan {
  startMs: number;
  endMs: number;
}

/** A run's span from two `performance.now()` readings of this process, on the simulator's clock. */
export function runSpan(startPerfMs: number, endPerfMs: number): RunSpan {
  return { startMs: performance.timeOrigin + startPerfMs, endMs: performance.timeOrigin + endPerfMs };
}

/** Consecutive spans of one run; they add up to its wall time. */
export interface PhaseSpans {
  /** Start → the first phase-1 request. */
  toFirstCall: number;
  /** The first phase-1 request → the last phase-1 answer. */
  phase1: number;
  /** The last phase-1 answer → the first later request (0 without one). */
  handover: number;
  /** That request → the last answer (0 without one). */
  phase2: number;
  /** The last answer → the result at the client. */
  toResult: number;
}

export const PHASE_KEYS = ['toFirstCall', 'phase1', 'handover', 'phase2', 'toResult'] as const satisfies readonly (keyof PhaseSpans)[];

type Draw = Pick<LatencyDraw, 'purpose' | 'atMs' | 'ms'>;

/** Splits a run at its calls: phase 1 is the requests of `phase1Purposes`, phase 2 every other. */
export function phaseSpans(draws: readonly Draw[], run: RunSpan, phase1Purposes: readonly string[]): PhaseSpans {
  const first = draws.filter((d) => phase1Purposes.includes(d.purpose));
  if (!first.length) throw new Error(`no ${phase1Purposes.join('/')} request among the run's calls`);
  const rest = draws.filter((d) => !phase1Purposes.includes(d.purpose));
  const begin = (ds: readonly Draw[]) => Math.min(...ds.map((d) => d.atMs));
  const end = (ds: readonly Draw[]) => Math.max(...ds.map((d) => d.atMs + d.ms));
  const phase1Start = begin(first);
  const phase1End = end(first);
  const phase2Start = rest.length ? begin(rest) : phase1End;
  const phase2End = rest.length ? end(rest) : phase1End;
  return {
    toFirstCall: phase1Start - run.startMs,
    phase1: phase1End - phase1Start,
    handover: phase2Start - phase1End,
    phase2: phase2End - phase2Start,
    toResult: run.endMs - phase2End,
  };
}

/** Per phase, the median over the pairs of `a` − `b` (each pair ran on the same drawn latencies). */
export function comparePhases(pairs: readonly { a: PhaseSpans; b: PhaseSpans }[]): PhaseSpans {
  if (!pairs.length) throw new Error('no pairs to compare');
  const out = {} as PhaseSpans;
  for (const key of PHASE_KEYS) out[key] = median(pairs.map((p) => p.a[key] - p.b[key]));
  return out;
}

/**
 * How long a freed slot stays idle: for each answer of `purposes` in time order, the wait until
 * the first request of theirs after it that no earlier answer took (the request that refilled
 * that slot, on the simulator's clock). It holds everything between two calls on a slot: the
 * client's reading of the answer, the engine's step to the next call, and sending it. Answers
 * no request followed (the last of each slot) have no handoff.
 */
export function slotHandoffs(draws: readonly Draw[], purposes: readonly string[]): number[] {
  const mine = draws.filter((d) => purposes.includes(d.purpose));
  const starts = mine.map((d) => d.atMs).sort((a, b) => a - b);
  const ends = mine.map((d) => d.atMs + d.ms).sort((a, b) => a - b);
  const handoffs: number[] = [];
  let next = 0;
  for (const end of ends) {
    // Starts and ends both ascend, so each answer's refill is at or after the previous one's.
    while (next < starts.length && starts[next] < end) next++;
    if (next === starts.length) break;
    handoffs.push(starts[next++] - end);
  }
  return handoffs;
}

/** "+207 ms", "−29 ms". */
export const signedMs = (ms: number): string => `${ms < 0 ? '−' : '+'}${Math.abs(Math.round(ms))} ms`;
