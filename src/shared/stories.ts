/**
 * Plain types of the generateStories workflow (input, progress, result), its scope and id.
 * Pure: safe inside the workflow sandbox.
 */

import type { PhaseProgress } from './ingestion';

/** Bumped whenever the synthesis prompt's wording or schema changes: stories of an older prompt are not reused. */
export const SYNTHESIS_PROMPT_VERSION = 'synthesis-v1';

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/** What a run covers: articles published in [fromMs, toMs), optionally of one topic. */
export interface StoryScopeInput {
  /** Relative: the last `sinceMs` before the run starts (a schedule's runs each take their own "now"). */
  sinceMs?: number;
  fromMs?: number;
  toMs?: number;
  topic?: string;
}

/** A scope resolved at a run's start and widened to whole clustering windows (UTC-aligned). */
export interface StoryScope {
  fromMs: number;
  toMs: number;
  topic: string | null;
}

/**
 * Resolves a scope at `nowMs` and widens it to whole windows of `windowMs`, so that a cluster
 * (which never spans two windows) is either wholly in a run's scope or wholly out of it: an
 * hour later the same `--since 24h` covers the same articles plus any new ones.
 */
export function resolveScope(input: StoryScopeInput, nowMs: number, windowMs = DAY_MS): StoryScope {
  const { from, to } = scopeBounds(input, nowMs);
  return {
    fromMs: Math.floor(from / windowMs) * windowMs,
    toMs: Math.ceil((to === from ? to + 1 : to) / windowMs) * windowMs,
    topic: input.topic?.trim() ? input.topic.trim() : null,
  };
}

/** The scope's bounds at `nowMs`, before widening: `to` defaults to now, `from` to `since` (24h) before `to`. */
function scopeBounds(input: StoryScopeInput, nowMs: number): { from: number; to: number } {
  const to = input.toMs ?? nowMs;
  return { from: input.fromMs ?? to - (input.sinceMs ?? DAY_MS), to };
}

/** 0000-01-01T00:00Z: the earliest a scope starts (dates are read as four-digit years; Postgres goes no further than 4713 BC). */
export const EARLIEST_SCOPE_MS = -62_167_219_200_000;

/**
 * Why a scope cannot be run at `nowMs` (it covers no time: its start is not before its end, as
 * with a `from` in the future and no `to`; or it starts before year 0), or undefined when it can.
 * Checked before a run starts, by every caller: inside the run it would be too late to refuse.
 */
export function scopeProblem(input: StoryScopeInput, nowMs: number): string | undefined {
  const { from, to } = scopeBounds(input, nowMs);
  const iso = (ms: number) => new Date(ms).toISOString();
  if (!Number.isFinite(from) || !Number.isFinite(to) || from < EARLIEST_SCOPE_MS) {
    return input.fromMs === undefined
      ? `since ${Math.round((input.sinceMs ?? DAY_MS) / DAY_MS)}d reaches back before 0000-01-01, the earliest a scope can start`
      : `the scope cannot start before 0000-01-01; got ${input.fromMs}`;
  }
  if (from >= to) {
    return `the scope covers no time: it starts at ${iso(from)}, not before its end ${input.toMs === undefined ? `(now, ${iso(to)})` : iso(to)}`;
  }
  return undefined;
}

const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 13).replace(/[:]/g, '');

/** The workflow id of a scope: two runs over the same scope cannot overlap (the second start is refused). */
export function storiesWorkflowId(scope: StoryScope): string {
  const topic = scope.topic ? scope.topic.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'topic' : 'all';
  return `stories-${stamp(scope.fromMs)}-${stamp(scope.toMs)}-${topic}`;
}

export function describeScope(scope: StoryScope): string {
  return `${new Date(scope.fromMs).toISOString()} – ${new Date(scope.toMs).toISOString()}${scope.topic ? `, topic "${scope.topic}"` : ''}`;
}

export interface StoryFlags {
  /** Syntheses with up to `concurrency` calls in flight (off: one at a time). */
  parallelSynthesis: boolean;
  /** All stories and links written in one transaction at the end (off: two commits per story, as it is made). */
  oneTransaction: boolean;
  /** Articles loaded once per run (off: each synthesis queries its articles again). */
  loadOnce: boolean;
  /** Reuse stories and cached answers for unchanged clusters (off: every cluster is synthesised again). */
  useCache: boolean;
}

export const DEFAULT_STORY_FLAGS: StoryFlags = { parallelSynthesis: true, oneTransaction: true, loadOnce: true, useCache: true };
export const DEFAULT_SYNTHESIS_CONCURRENCY = 5;
export const MAX_SYNTHESIS_CONCURRENCY = 100;

/**
 * `--similarity`: the cosine similarity an article needs with a cluster to join it (above 0, at
 * most 1; higher makes more, tighter clusters). Undefined when not given (the run's default, 0.5).
 */
export function parseSimilarity(label: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^(0|1)?\.\d+$|^1$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0 && value <= 1)) throw new RangeError(`${label} takes a similarity above 0 and at most 1, e.g. 0.6; got "${raw}"`);
  return value;
}

export interface StoriesSteeringState {
  paused: boolean;
  concurrency: { synthesis: number };
}

/** Why a setConcurrency request cannot be applied, or undefined when it can. */
export function synthesisConcurrencyError(change: unknown): string | undefined {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    return `setConcurrency takes an object like { "synthesis": 8 }; got ${JSON.stringify(change) ?? 'nothing'}`;
  }
  const keys = Object.keys(change);
  if (keys.length !== 1 || keys[0] !== 'synthesis') return 'setConcurrency: only "synthesis" can be set for a story run';
  const value = (change as { synthesis: unknown }).synthesis;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SYNTHESIS_CONCURRENCY) {
    return `synthesis must be an integer from 1 to ${MAX_SYNTHESIS_CONCURRENCY}; got ${JSON.stringify(value) ?? 'nothing'}`;
  }
  return undefined;
}

export type StoriesStatus = 'running' | 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';

/** Clusters to synthesise: made, failed, and reused (a story of the same hash, no call). */
export type StoryStep = PhaseProgress;

export interface StoriesProgress {
  phase: 'starting' | 'clustering' | 'synthesis' | 'writing' | 'done';
  status: StoriesStatus;
  paused: boolean;
  concurrency: { synthesis: number };
  articles: number;
  clusters: number;
  synthesis: StoryStep;
  /** With `--batch`: the provider batch's id (null when every item was cached), its status and polls so far. */
  batch?: { id: string | null; state: string; polls: number };
  elapsedMs: number;
  /** While it runs, when the run began (ms since the epoch): a reader counts its elapsed time from it (see run-progress.ts). */
  startedAt?: number;
  estimatedRemainingMs?: number;
}

export interface StoryFailure {
  cluster: number;
  storyHash: string;
  label: string;
  errorType: string;
  message: string;
}

export interface StoriesResult {
  scope: StoryScope;
  status: StoriesStatus;
  articles: number;
  clusters: number;
  synthesis: StoryStep;
  stories: { created: number; kept: number; superseded: number };
  failures: StoryFailure[];
  failureCount: number;
  /** How the run's syntheses were made: calls in a sliding window, or one provider batch. */
  synthesisMode: 'calls' | 'batch';
  timingsMs: { total: number; clustering: number; synthesis: number; writing: number };
  /** Queries of the articles table: 1 (the load) plus one per synthesis that had to read its articles again. */
  articleQueries: number;
  error?: { type: string; message: string };
}
