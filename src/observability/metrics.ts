/**
 * The app's Prometheus metrics: where LLM time, tokens and errors go, how well the response
 * cache works, and how many activities are running. One registry per AppServices, so tests
 * (and several apps in one process) do not share counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface AppMetrics {
  registry: Registry;
  /** Seconds per LLM call, cache hits included (outcome ok | cache_hit | error). */
  llmCallDuration: Histogram<'provider' | 'model' | 'purpose' | 'outcome'>;
  /** Tokens billed by providers (cache hits bill none). */
  llmTokens: Counter<'provider' | 'model' | 'purpose' | 'direction'>;
  llmErrors: Counter<'provider' | 'model' | 'purpose' | 'error_type'>;
  /** hit = answered from llm_response_cache; miss = the provider was called (cache off or not found). */
  llmCache: Counter<'purpose' | 'result'>;
  activitiesInFlight: Gauge<'activity_type' | 'task_queue'>;
  /** Story sessions: seconds per LLM call, tool execution, tool batch and turn (outcome ok | error; tool_kind read_only | write | ''). */
  sessionOperations: Record<SessionOperation, Histogram<'outcome' | 'tool_kind'>>;
}

export type SessionOperation = 'llm_call' | 'tool_execution' | 'tool_batch' | 'turn';

/** Tools take milliseconds, turns seconds. */
const SESSION_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

function sessionHistograms(registers: Registry[]): AppMetrics['sessionOperations'] {
  const histogram = (op: SessionOperation, help: string) =>
    new Histogram({ name: `storyloom_session_${op}_duration_seconds`, help, labelNames: ['outcome', 'tool_kind'], buckets: SESSION_DURATION_BUCKETS, registers });
  return {
    llm_call: histogram('llm_call', 'Story sessions: LLM call latency in seconds'),
    tool_execution: histogram('tool_execution', 'Story sessions: one tool execution in seconds'),
    tool_batch: histogram('tool_batch', "Story sessions: one step's tools (reads in parallel, then writes) in seconds"),
    turn: histogram('turn', 'Story sessions: one turn, LLM calls and tools, in seconds'),
  };
}

/** LLM latencies run from a cache hit (milliseconds) to a long generation (minutes). */
const LLM_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): AppMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    llmCallDuration: new Histogram({
      name: 'storyloom_llm_call_duration_seconds',
      help: 'LLM call latency in seconds, cache hits included',
      labelNames: ['provider', 'model', 'purpose', 'outcome'],
      buckets: LLM_DURATION_BUCKETS,
      registers,
    }),
    llmTokens: new Counter({
      name: 'storyloom_llm_tokens_total',
      help: 'Tokens reported by providers, by direction (input | output)',
      labelNames: ['provider', 'model', 'purpose', 'direction'],
      registers,
    }),
    llmErrors: new Counter({
      name: 'storyloom_llm_errors_total',
      help: 'Failed LLM calls by failure type (LlmRateLimited, LlmTimeout, ...)',
      labelNames: ['provider', 'model', 'purpose', 'error_type'],
      registers,
    }),
    llmCache: new Counter({
      name: 'storyloom_llm_cache_total',
      help: 'LLM calls answered from the response cache (hit) or by the provider (miss)',
      labelNames: ['purpose', 'result'],
      registers,
    }),
    activitiesInFlight: new Gauge({
      name: 'storyloom_activities_in_flight',
      help: 'Activities executing in this process',
      labelNames: ['activity_type', 'task_queue'],
      registers,
    }),
    sessionOperations: sessionHistograms(registers),
  };
}
