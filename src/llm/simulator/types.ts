/** Public types of the LLM provider simulator (config, stats, running handle). */

export const ROUTE_NAMES = [
  'anthropic.messages',
  'openai.chat',
  'openai.embeddings',
  'ollama.chat',
  'ollama.embed',
  'anthropic.batches',
  'openai.batches',
  'openai.files',
  'anthropic.countTokens',
] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

export const PROVIDERS = ['anthropic', 'openai', 'ollama'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const ROUTE_PROVIDER: Readonly<Record<RouteName, Provider>> = {
  'anthropic.messages': 'anthropic',
  'openai.chat': 'openai',
  'openai.embeddings': 'openai',
  'ollama.chat': 'ollama',
  'ollama.embed': 'ollama',
  'anthropic.batches': 'anthropic',
  'openai.batches': 'openai',
  'openai.files': 'openai',
  'anthropic.countTokens': 'anthropic',
};

export interface LatencySpec {
  fixedMs: number;
  perOutputTokenMs?: number;
  /** Per embedding input. */
  perInputMs?: number;
  perInputTokenMs?: number;
  /** σ of this spec's log-normal draws, in place of the config's `jitter` (a purpose whose latency spreads less or more). */
  jitter?: number;
}

/**
 * `malformed` cuts the body (invalid JSON); `wrongShape` answers a structured-output request
 * with valid JSON in the provider's normal wire format that breaks the requested schema.
 */
/**
 * `http429NoRetryAfter`: a 429 without retry-after headers; `http404`: the provider's not-found error (an unknown model).
 * `http429Quota`: the 429 OpenAI sends when the account has no credit left (`insufficient_quota`, no retry-after; on
 * Anthropic the body is a `billing_error`). `streamError`: a streamed request gets HTTP 200 and a few deltas, then the
 * provider's mid-stream error event for an overload (Anthropic `event: error` with an `overloaded_error`, OpenAI a
 * `data: {"error":…}` chunk, Ollama an `{"error":…}` line) and the stream ends; requests that do not stream never match it. `streamStall`: a streamed
 * request gets HTTP 200 and a few deltas, then nothing more: the connection stays open, silent, until the client
 * leaves (a stream stuck half-way); requests that do not stream never match it either.
 */
export const FAULT_KINDS = [
  'http500',
  'http529',
  'http429',
  'http400',
  'http401',
  'hang',
  'malformed',
  'wrongShape',
  'http429NoRetryAfter',
  'http404',
  'http429Quota',
  'streamError',
  'streamStall',
] as const;
/** Faults only a streamed request can get. */
export const STREAM_FAULT_KINDS: readonly FaultKind[] = ['streamError', 'streamStall'];
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  route?: RouteName;
  purpose?: string;
  /** Substring of the raw request body. */
  contains?: string;
  kind: FaultKind;
  /** Probability 0..1 that a matching request gets the fault; default 1. */
  rate?: number;
  /** Fire at most this many times (until reset or the fault list is replaced); default unlimited. */
  times?: number;
  /** Advertised wait for http429. */
  retryAfterMs?: number;
}

/**
 * A fault for one item of a batch (Anthropic Message Batches, OpenAI Batch): the item ends
 * errored (`http500`, `http529`, `http400`), expired, or succeeds with a wrong-shape answer.
 */
export const BATCH_ITEM_FAULT_KINDS = ['http500', 'http529', 'http400', 'expired', 'wrongShape'] as const;
export type BatchItemFaultKind = (typeof BATCH_ITEM_FAULT_KINDS)[number];

export interface BatchItemFault {
  provider?: Provider;
  /** Exact custom id of the item. */
  customId?: string;
  /** Substring of the item's request body (JSON). */
  contains?: string;
  kind: BatchItemFaultKind;
  /** Probability 0..1 that a matching item gets the fault; default 1. */
  rate?: number;
  /** Fire at most this many times (until reset or the fault list is replaced); default unlimited. */
  times?: number;
}

export interface BatchConfig {
  /** How long a batch takes from creation to its end, in ms before timeScale; items finish evenly over it. */
  processingMs: number;
  itemFaults: BatchItemFault[];
  /**
   * Processing stops after this many items of each batch: they finish evenly over `processingMs`,
   * the rest never do, and the batch stays in progress until it is cancelled (a test cancels at a
   * known point). Unset: every item finishes.
   */
  stallAfterItems?: number;
}

export interface ProviderLimits {
  maxConcurrent?: number;
  rpm?: number;
}

export interface SimulatorConfig {
  /** Multiplies every latency; 0 answers at once. */
  timeScale: number;
  /** Most specific wins: purpose > route > default. */
  latency: {
    default: LatencySpec;
    byRoute?: Partial<Record<RouteName, LatencySpec>>;
    byPurpose?: Record<string, LatencySpec>;
  };
  limits: Partial<Record<Provider, ProviderLimits>>;
  /** What 429s advertise (rpm 429s advertise the wait for a free slot when that is longer). */
  retryAfterMs: number;
  faults: FaultRule[];
  /** When set for a provider, any other key gets a 401. */
  apiKeys: Partial<Record<Provider, string>>;
  /** Seed of the PRNG that decides fault rates, and of the latency draws. */
  seed: number;
  /**
   * Spread of each request's latency: the σ of a log-normal whose mean is the configured latency
   * (0 = exactly the configured latency). 0.27 gives a p95 of about 1.5 × the mean. A request's
   * draw is a hash of the seed, its purpose and its body, so the same request takes the same time
   * in every run (a bench compares runs of the same prompts).
   */
  jitter: number;
  embeddingDimensions: number;
  /** The batch endpoints (Anthropic Message Batches, OpenAI Files + Batch). */
  batches: BatchConfig;
}

/**
 * Partial config for start/configure. Objects merge deeply, arrays (faults) are replaced,
 * and `null` puts a key back to its default (or removes it when it has none).
 */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | null }
    : T;

export interface RouteStats {
  requests: number;
  ok: number;
  /** Keyed by fault kind (e.g. 'http500', 'hang') or by HTTP status for other failures ('400', '401', '429'). */
  errors: Record<string, number>;
  rateLimited: number;
  aborted: number;
  inputTokens: number;
  outputTokens: number;
  embeddingInputs: number;
  peakConcurrent: number;
  /** Integral of concurrent requests over time, in ms (busyMs / wall time = mean concurrency). */
  busyMs: number;
}

export interface SimulatorStats {
  totalRequests: number;
  ok: number;
  /** 429s sent, by limits or by faults. */
  rateLimited: number;
  aborted: number;
  peakConcurrent: number;
  currentConcurrent: number;
  byRoute: Record<RouteName, RouteStats>;
  byPurpose: Record<string, RouteStats>;
  byProvider: Record<Provider, RouteStats>;
  /** Batches created, cancelled and ended, and their items by outcome. */
  batches: BatchStats;
}

export interface BatchStats {
  created: number;
  /** Cancel requests that found the batch still processing. */
  cancelled: number;
  ended: number;
  items: number;
  itemsSucceeded: number;
  itemsErrored: number;
  itemsCanceled: number;
  itemsExpired: number;
  /** Batches created but not yet ended. */
  inProgress: number;
}

/** One latency the simulator drew and waited out (admitted requests that were answered or aborted). */
export interface LatencyDraw {
  /** 1, 2, … in the order the requests were admitted. */
  seq: number;
  provider: Provider;
  route: RouteName;
  purpose: string;
  /** The configured latency for this request (time scale applied), before the draw. */
  meanMs: number;
  /** What the simulator waited (time scale applied). */
  ms: number;
  /**
   * When the wait began, in epoch ms with sub-ms precision (`performance.timeOrigin +
   * performance.now()`): the answer is out about `ms` later. The bench places each run's calls
   * on its own clock with it (bench/phases.ts).
   */
  atMs: number;
}

export interface StartOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningSimulator {
  /** e.g. http://127.0.0.1:7800, no trailing slash. */
  url: string;
  port: number;
  stats(): SimulatorStats;
  resetStats(): void;
  /** The latencies drawn so far with seq > `afterSeq` (default all kept; the newest 100,000). */
  latencies(afterSeq?: number): LatencyDraw[];
  configure(partial: DeepPartial<SimulatorConfig>): void;
  config(): SimulatorConfig;
  /**
   * Forgets every batch made so far, as a provider does with a batch deleted or sent under
   * another key or workspace: each later request about one answers 404. Returns how many.
   */
  loseBatches(): number;
  /** Stops listening and destroys open sockets, hung requests included. */
  close(): Promise<void>;
}
