/** Public types of the LLM provider simulator (config, stats, running handle). */

export const ROUTE_NAMES = [
  'anthropic.messages',
  'openai.chat',
  'openai.embeddings',
  'ollama.chat',
  'ollama.embed',
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
};

export interface LatencySpec {
  fixedMs: number;
  perOutputTokenMs?: number;
  /** Per embedding input. */
  perInputMs?: number;
  perInputTokenMs?: number;
}

/**
 * `malformed` cuts the body (invalid JSON); `wrongShape` answers a structured-output request
 * with valid JSON in the provider's normal wire format that breaks the requested schema.
 */
/** `http429NoRetryAfter`: a 429 without retry-after headers; `http404`: the provider's not-found error (an unknown model). */
export const FAULT_KINDS = ['http500', 'http529', 'http429', 'http400', 'http401', 'hang', 'malformed', 'wrongShape', 'http429NoRetryAfter', 'http404'] as const;
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
  /** Seed of the PRNG that decides fault rates. */
  seed: number;
  embeddingDimensions: number;
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
  configure(partial: DeepPartial<SimulatorConfig>): void;
  config(): SimulatorConfig;
  /** Stops listening and destroys open sockets, hung requests included. */
  close(): Promise<void>;
}
