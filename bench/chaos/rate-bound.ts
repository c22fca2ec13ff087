/**
 * "What the allowed rate permits" for the 429-storm cases (issue 14: a storm costs time, never
 * items, and the run's wall time stays within 1.2× of that): the run's lower bound when every
 * answer the provider gave is taken as given. Each item's call chain is its rate-limited
 * requests, each followed by the wait the provider asked for (retry-after), then its answered
 * request; the chains go through the run's windows (summaries, then outline ∥ sheets ∥
 * embeddings) exactly as bench/bounds.ts schedules drawn latencies. Read from the run's
 * `llm_calls` rows (one per request, 429s included), so nothing the app reports about itself
 * enters the bound.
 */
import type { DataSource } from 'typeorm';
import { drawnIngestionBound, SEED_LATENCY, type DrawnLatencies } from '../bounds';
import { DEFAULT_CONCURRENCY } from '../../src/shared/ingestion';
import { LlmFailureType } from '../../src/shared/failure-types';

export interface RateLimitBound {
  boundMs: number;
  /** Requests the provider answered with a 429. */
  rateLimited: number;
  /** The wait each 429 asked for (0 when it named none: the provider permits an immediate retry). */
  retryAfterMs: number;
}

interface ItemRow {
  purpose: string;
  limited: string | number;
  limited_ms: string | number | null;
  ok_ms: string | number | null;
}

/** One item's chain: its 429 requests, the retry-after after each, its answered requests. */
export function itemChainMs(item: { limited: number; limitedMs: number; okMs: number }, retryAfterMs: number): number {
  return item.limitedMs + item.limited * retryAfterMs + item.okMs;
}

export async function rateLimitBound(
  db: DataSource,
  workflowId: string,
  opts: { retryAfterMs: number; scenes: number; characters: number; timeScale: number },
): Promise<RateLimitBound> {
  // An activity is an item; activity ids are the workflow's scheduling sequence numbers, so
  // ordering by them replays the order the window took the items in.
  const rows: ItemRow[] = await db.query(
    `SELECT purpose,
            count(*) FILTER (WHERE error_type = $2) AS limited,
            sum(latency_ms) FILTER (WHERE error_type = $2) AS limited_ms,
            sum(latency_ms) FILTER (WHERE outcome = 'ok') AS ok_ms
       FROM llm_calls
      WHERE workflow_id = $1 AND activity_id ~ '^[0-9]+$'
      GROUP BY activity_id, purpose
      ORDER BY activity_id::bigint`,
    [workflowId, LlmFailureType.RateLimited],
  );
  const drawn: DrawnLatencies = { summary: [], outline: [], sheet: [], embedding: [], synthesis: [] };
  let rateLimited = 0;
  for (const r of rows) {
    const item = { limited: Number(r.limited), limitedMs: Number(r.limited_ms ?? 0), okMs: Number(r.ok_ms ?? 0) };
    rateLimited += item.limited;
    if (r.purpose in drawn) drawn[r.purpose as keyof DrawnLatencies].push(itemChainMs(item, opts.retryAfterMs));
  }
  const bound = drawnIngestionBound(
    SEED_LATENCY,
    drawn,
    { summaries: opts.scenes, outline: Math.max(1, drawn.outline.length), sheets: opts.characters, embeddings: opts.scenes },
    { summaries: DEFAULT_CONCURRENCY.summaries, sheets: DEFAULT_CONCURRENCY.sheets, batchEmbeddings: true, parallelPhase2: true },
    opts.timeScale,
  );
  return { boundMs: bound.ms, rateLimited, retryAfterMs: opts.retryAfterMs };
}
