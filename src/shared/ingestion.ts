/** Plain types of the ingestion workflow's input, result and progress. Pure: workflow-safe. */

export type IngestionMode = 'full' | 'partial';

export interface IngestionFlags {
  /** Summaries with up to `concurrency.summaries` calls in flight (off: one at a time, in scene order). */
  parallelSceneSummaries: boolean;
  /** Sheets with up to `concurrency.sheets` calls in flight. */
  parallelCharacterSheets: boolean;
  /** One embeddings request per ≤ 2,048 inputs (off: one request per scene). */
  batchEmbeddings: boolean;
  /** Outline, sheets and embeddings concurrently (off: one after another). */
  parallelPhase2: boolean;
  /** Consult the LLM response cache before every call. */
  useCache: boolean;
}

export const DEFAULT_FLAGS: IngestionFlags = {
  parallelSceneSummaries: true,
  parallelCharacterSheets: true,
  batchEmbeddings: true,
  parallelPhase2: true,
  useCache: true,
};

export interface IngestionConcurrency {
  summaries: number;
  sheets: number;
}

export const DEFAULT_CONCURRENCY: IngestionConcurrency = { summaries: 10, sheets: 5 };
export const MAX_CONCURRENCY = 200;

/** What the steering updates (pause, resume, setConcurrency) answer: the run's settings after the change. */
export interface SteeringState {
  paused: boolean;
  concurrency: IngestionConcurrency;
}

const CONCURRENCY_KEYS: readonly (keyof IngestionConcurrency)[] = ['summaries', 'sheets'];

/** Why a setConcurrency request cannot be applied, or undefined when it can (the update's validator). */
export function concurrencyChangeError(change: unknown): string | undefined {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    return `setConcurrency takes an object like { "summaries": 20, "sheets": 5 }; got ${JSON.stringify(change) ?? 'nothing'}`;
  }
  const keys = Object.keys(change);
  if (!keys.length) return 'setConcurrency needs summaries, sheets or both';
  for (const key of keys) {
    if (!(CONCURRENCY_KEYS as readonly string[]).includes(key)) return `setConcurrency: unknown key "${key}" (only summaries and sheets can be set)`;
    const value = (change as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_CONCURRENCY) {
      return `${key} must be an integer from 1 to ${MAX_CONCURRENCY}; got ${JSON.stringify(value) ?? 'nothing'}`;
    }
  }
  return undefined;
}

export type PhaseName = 'summaries' | 'outline' | 'sheets' | 'embeddings';

export interface PhaseProgress {
  total: number;
  done: number;
  failed: number;
  /** Items already current and reused without a call. */
  reused: number;
  /** Of `done`, those the response cache answered (no provider call, nothing paid); absent before 0.8.2. */
  cached?: number;
  startedAt?: number;
  finishedAt?: number;
}

export interface IngestionFailure {
  phase: PhaseName;
  item: string;
  errorType: string;
  message: string;
}

export type IngestionStatus = 'running' | 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';

export interface IngestionProgress {
  phase: 'starting' | 'summaries' | 'phase2' | 'done';
  status: IngestionStatus;
  paused: boolean;
  /** Why the run paused itself (a provider outage); absent when a user paused it or it runs. */
  pauseReason?: string;
  concurrency: IngestionConcurrency;
  phases: Record<PhaseName, PhaseProgress>;
  elapsedMs: number;
  /** While it runs, when the run began (ms since the epoch): a reader counts its elapsed time from it (see run-progress.ts). */
  startedAt?: number;
  /** Rough: from the summaries' rate so far; undefined until one finished. */
  estimatedRemainingMs?: number;
}

export interface IngestionResult {
  scriptId: string;
  status: IngestionStatus;
  mode: IngestionMode;
  phases: Record<PhaseName, PhaseProgress>;
  /** The first failures (at most 50); `failureCount` has them all. */
  failures: IngestionFailure[];
  failureCount: number;
  timingsMs: { total: number; summaries: number; phase2: number; outline: number; sheets: number; embeddings: number };
  /** Temporal runs this ingestion took (continue-as-new splits long scripts). */
  runs: number;
  /** Why the run failed, when it did. */
  error?: { type: string; message: string };
}

export function ingestionWorkflowId(scriptId: string): string {
  return `ingest-${scriptId}`;
}
