/**
 * A run's report: where the time and the money went. Built from the call log (`llm_calls`),
 * the run's row, the DB statement counts (`run_db_stats`) and Temporal's history length.
 * `computeRunReport` is pure (rows in, report out); `loadRunReport` fetches the rows.
 */
import type { ModelPrice } from '../config';
import type { IngestionFlags } from '../shared/ingestion';
import { LlmFailureType } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';
import { BATCH_PRICE_FACTOR } from '../shared/provider-batch';

export interface CallRow {
  purpose: string;
  provider: string;
  model: string;
  outcome: string;
  errorType: string | null;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  attempt: number | null;
  /** Made through a provider batch (absent in rows read before batches existed). */
  batch?: boolean;
  /** `workflow/run/activity/attempt/request`: tells a re-request after a rate-limit wait (absent in old rows). */
  callKey?: string | null;
}

/**
 * Calls that repeat a failed one: those of a later attempt, and those made, within one attempt,
 * right after a rate-limited request (rate limits are waited out inside the attempt).
 */
function countRetries(rows: CallRow[]): number {
  const limited = new Set(rows.filter((r) => r.errorType === LlmFailureType.RateLimited && r.callKey).map((r) => r.callKey));
  const afterRateLimit = (key: string | null | undefined) => {
    const m = key ? /^(.*)\/(\d+)$/.exec(key) : null;
    return m !== null && Number(m[2]) > 0 && limited.has(`${m[1]}/${Number(m[2]) - 1}`);
  };
  return rows.filter((r) => (r.attempt ?? 1) > 1 || afterRateLimit(r.callKey)).length;
}

export interface LlmUsageLine {
  purpose: string;
  provider: string;
  model: string;
  /** Every call recorded: provider calls (ok or failed) and cache hits. */
  calls: number;
  providerCalls: number;
  cacheHits: number;
  /** Calls that were a retry (attempt > 1). */
  retries: number;
  rateLimited: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  /** Absent in reports stored before 0.8.3. */
  p99Ms?: number;
  maxMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Calls made through a provider batch: a line of their own, priced at the batch discount. */
  batch: boolean;
  /** USD; null when the model has no price in the configured table. */
  costUsd: number | null;
}

export interface PathStep {
  name: string;
  calls: number;
  /** Least time this step could take with the widest window the run was given and the latencies seen. */
  boundMs: number;
}

/** Which run a report is about, and how it ended. */
export interface RunSummary {
  workflowId: string;
  /** Every run of the execution chain (an ingestion continues as new). */
  runIds: string[];
  kind: string;
  scriptId: string | null;
  status: string;
  wallMs: number;
  phasesMs: Record<string, number>;
  /** Why the run failed, when it did. */
  error?: { type: string; message: string };
}

/** What the workflow hands over when it ends. */
export interface RunToReport extends RunSummary {
  /** Events in the last run's history as the workflow saw them when it handed this over (spares asking Temporal). */
  currentHistoryLength?: number;
  /** An ingestion: its flags and the widest window each phase was given. */
  ingestion?: { flags: IngestionFlags; concurrency: { summaries: number; sheets: number } };
  /** A generateStories run: how its syntheses were windowed (the widest window it was given). */
  stories?: { parallelSynthesis: boolean; concurrency: number; batch?: boolean };
  /** A generateScreenplay run: its story, variants and the figures its result has. */
  screenplay?: ScreenplayRunFigures;
}

/** What a screenplay run's report adds (figures absent when the run ended before them). */
export interface ScreenplayRunFigures {
  storyId: string;
  variants: number;
  variantsInFlight: number;
  /** Statements that loaded the persona contexts. */
  personaQueries?: number;
  /** Versions saved by the run. */
  versions: number[];
  /** The first token of the fastest variant, from the start of its activity. */
  firstTokenMs?: number;
  truncated: number;
  /** Commits of the saves together (one per version). */
  saveCommits: number;
}

export interface RunReport extends RunSummary {
  criticalPath: { steps: PathStep[]; lowerBoundMs: number; overheadMs: number };
  llm: LlmUsageLine[];
  totals: {
    calls: number;
    providerCalls: number;
    cacheHits: number;
    retries: number;
    rateLimited: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number | null;
    unpricedModels: string[];
    /** Provider calls made through batches (priced at the batch discount); absent in older reports. */
    batchCalls?: number;
  };
  db: { queries: number; commits: number } | null;
  history: { events: number; runs: number } | null;
  screenplay?: ScreenplayRunFigures;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function usageLines(calls: CallRow[], prices: Record<string, ModelPrice>): LlmUsageLine[] {
  const groups = new Map<string, CallRow[]>();
  for (const c of calls) {
    const key = `${c.purpose}\u0000${c.provider}\u0000${c.model}\u0000${c.batch ? 'batch' : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()]
    .map((rows) => {
      const provider = rows.filter((r) => r.outcome !== 'cache_hit');
      const latencies = provider.map((r) => r.latencyMs).sort((a, b) => a - b);
      const inputTokens = rows.reduce((n, r) => n + r.inputTokens, 0);
      const outputTokens = rows.reduce((n, r) => n + r.outputTokens, 0);
      const price = prices[rows[0].model];
      const batch = rows[0].batch === true;
      const factor = batch ? (BATCH_PRICE_FACTOR[rows[0].provider as Provider] ?? 1) : 1;
      return {
        purpose: rows[0].purpose,
        provider: rows[0].provider,
        model: rows[0].model,
        calls: rows.length,
        providerCalls: provider.length,
        cacheHits: rows.length - provider.length,
        retries: countRetries(rows),
        rateLimited: rows.filter((r) => r.errorType === LlmFailureType.RateLimited).length,
        errors: rows.filter((r) => r.outcome === 'error').length,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies[latencies.length - 1] ?? 0,
        inputTokens,
        outputTokens,
        batch,
        costUsd: price ? ((inputTokens * price.input + outputTokens * price.output) * factor) / 1e6 : null,
      };
    })
    .sort((a, b) => a.purpose.localeCompare(b.purpose) || a.model.localeCompare(b.model) || Number(a.batch) - Number(b.batch));
}

/** Lower bound of n jobs on c slots: the longest job, or the total work spread evenly. */
export function windowBound(latencies: number[], concurrency: number): number {
  if (!latencies.length) return 0;
  return Math.max(Math.max(...latencies), latencies.reduce((a, b) => a + b, 0) / Math.max(1, concurrency));
}

function okLatencies(calls: CallRow[], purpose: string): number[] {
  return calls.filter((c) => c.purpose === purpose && c.outcome === 'ok').map((c) => c.latencyMs);
}

/**
 * The chain that bounded an ingestion: summaries, then the longest phase-2 branch (or all of
 * them, one after another, when phase 2 is sequential). Bounds use the latencies seen and the
 * widest window the run was given (a window narrowed mid-run must not raise the bound), so
 * `overheadMs` is what orchestration, the database and retries added.
 */
export function ingestionCriticalPath(calls: CallRow[], flags: IngestionFlags, concurrency: { summaries: number; sheets: number }, wallMs: number) {
  const summaries = okLatencies(calls, 'summary');
  const outline = okLatencies(calls, 'outline');
  const sheets = okLatencies(calls, 'sheet');
  const embeddings = okLatencies(calls, 'embedding');
  const outlineBound = outline.length > 1 ? Math.max(...outline.slice(0, -1)) + outline[outline.length - 1] : (outline[0] ?? 0);
  const steps: PathStep[] = [
    { name: 'summaries', calls: summaries.length, boundMs: windowBound(summaries, flags.parallelSceneSummaries ? concurrency.summaries : 1) },
  ];
  const branches: PathStep[] = [
    { name: 'outline', calls: outline.length, boundMs: outlineBound },
    { name: 'sheets', calls: sheets.length, boundMs: windowBound(sheets, flags.parallelCharacterSheets ? concurrency.sheets : 1) },
    { name: 'embeddings', calls: embeddings.length, boundMs: embeddings.reduce((a, b) => a + b, 0) },
  ];
  if (flags.parallelPhase2) steps.push(branches.reduce((a, b) => (b.boundMs > a.boundMs ? b : a)));
  else steps.push(...branches);
  const lowerBoundMs = steps.reduce((n, s) => n + s.boundMs, 0);
  return { steps, lowerBoundMs, overheadMs: wallMs - lowerBoundMs };
}

/** A story run's chain: the embedding requests (one after another), then the synthesis window. */
export function storiesCriticalPath(calls: CallRow[], stories: { parallelSynthesis: boolean; concurrency: number }, wallMs: number) {
  const embeddings = okLatencies(calls, 'embedding');
  const syntheses = okLatencies(calls.filter((c) => !c.batch), 'synthesis');
  // A provider batch's items share its processing time (each row's latency): it counts once.
  const batched = okLatencies(calls.filter((c) => c.batch), 'synthesis');
  const steps: PathStep[] = [
    { name: 'embeddings', calls: embeddings.length, boundMs: embeddings.reduce((a, b) => a + b, 0) },
    ...(batched.length ? [{ name: 'synthesis batch', calls: batched.length, boundMs: Math.max(...batched) }] : []),
    // After a batch, the calls are its retries (none when every item succeeded).
    ...(batched.length && !syntheses.length ? [] : [{ name: 'synthesis', calls: syntheses.length, boundMs: windowBound(syntheses, stories.parallelSynthesis ? stories.concurrency : 1) }]),
  ];
  const lowerBoundMs = steps.reduce((n, s) => n + s.boundMs, 0);
  return { steps, lowerBoundMs, overheadMs: wallMs - lowerBoundMs };
}

/**
 * A screenplay run's generation calls in their window of variants (a variant's continuations and
 * parse retry follow its first call). The prompt's token count is no LLM call: it is in the
 * `preparing` phase.
 */
export function screenplayCriticalPath(calls: CallRow[], screenplay: { variantsInFlight: number }, wallMs: number) {
  const generations = okLatencies(calls, 'screenplay');
  const steps: PathStep[] = [{ name: 'screenplay', calls: generations.length, boundMs: windowBound(generations, screenplay.variantsInFlight) }];
  const lowerBoundMs = steps[0].boundMs;
  return { steps, lowerBoundMs, overheadMs: wallMs - lowerBoundMs };
}

export interface ReportInput extends RunToReport {
  calls: CallRow[];
  prices: Record<string, ModelPrice>;
  db: { queries: number; commits: number } | null;
  historyEvents: number | null;
}

export function computeRunReport(input: ReportInput): RunReport {
  const llm = usageLines(input.calls, input.prices);
  const unpriced = [...new Set(llm.filter((l) => l.costUsd === null && l.providerCalls > 0).map((l) => l.model))];
  const sum = (f: (l: LlmUsageLine) => number) => llm.reduce((n, l) => n + f(l), 0);
  const criticalPath = input.ingestion
    ? ingestionCriticalPath(input.calls, input.ingestion.flags, input.ingestion.concurrency, input.wallMs)
    : input.stories
      ? storiesCriticalPath(input.calls, input.stories, input.wallMs)
      : input.screenplay
        ? screenplayCriticalPath(input.calls, input.screenplay, input.wallMs)
        : (() => {
        const steps = [...new Set(input.calls.map((c) => c.purpose))].map((purpose) => {
          const l = okLatencies(input.calls.filter((c) => !c.batch), purpose);
          // A batch's items share its processing time: the batch counts once.
          const batched = okLatencies(input.calls.filter((c) => c.batch), purpose);
          return { name: purpose, calls: l.length + batched.length, boundMs: l.reduce((a, b) => a + b, 0) + (batched.length ? Math.max(...batched) : 0) };
        });
        const lowerBoundMs = steps.reduce((n, s) => n + s.boundMs, 0);
        return { steps, lowerBoundMs, overheadMs: input.wallMs - lowerBoundMs };
      })();
  return {
    workflowId: input.workflowId,
    runIds: input.runIds,
    kind: input.kind,
    scriptId: input.scriptId,
    status: input.status,
    wallMs: input.wallMs,
    phasesMs: input.phasesMs,
    ...(input.error ? { error: input.error } : {}),
    criticalPath,
    llm,
    totals: {
      calls: sum((l) => l.calls),
      providerCalls: sum((l) => l.providerCalls),
      cacheHits: sum((l) => l.cacheHits),
      retries: sum((l) => l.retries),
      rateLimited: sum((l) => l.rateLimited),
      inputTokens: sum((l) => l.inputTokens),
      outputTokens: sum((l) => l.outputTokens),
      costUsd: unpriced.length ? null : sum((l) => l.costUsd ?? 0),
      unpricedModels: unpriced,
      batchCalls: sum((l) => (l.batch ? l.providerCalls : 0)),
    },
    db: input.db,
    history: input.historyEvents === null ? null : { events: input.historyEvents, runs: input.runIds.length },
    ...(input.screenplay ? { screenplay: input.screenplay } : {}),
  };
}
