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

export type PhaseName = 'summaries' | 'outline' | 'sheets' | 'embeddings';

export interface PhaseProgress {
  total: number;
  done: number;
  failed: number;
  /** Items already current and reused without a call. */
  reused: number;
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
  concurrency: IngestionConcurrency;
  phases: Record<PhaseName, PhaseProgress>;
  elapsedMs: number;
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
