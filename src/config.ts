/**
 * The only module that reads `process.env`. Everything else receives a typed, validated
 * `AppConfig`. `.env.example` documents every variable read here.
 */
import { parsePayloadKeys, type PayloadKeys } from './security/payload-codec';
import {
  CHAT_PURPOSES,
  EMBEDDING_PURPOSES,
  PROVIDERS,
  type Provider,
  type Purpose,
} from './shared/llm-routing';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ModelRef {
  provider: Provider;
  model: string;
}

export interface ProviderSettings {
  /** Secret: read from the environment only, never passed into workflows. */
  apiKey: string | undefined;
  baseUrl: string | undefined;
  /** Concurrent LLM activities per worker process for this provider. */
  maxConcurrent: number;
  /** Requests per second across all workers of this provider's task queue (0 = unlimited). */
  maxPerSecond: number;
}

/** Price per million tokens, in US dollars. */
export interface ModelPrice {
  input: number;
  output: number;
}

export interface AppConfig {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    /** mTLS client certificate and key (PEM file paths), a CA and server name for self-hosted clusters. */
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    /** Secret: Temporal Cloud API key (implies TLS). */
    apiKey?: string;
  };
  /** The HTTP API (`storyloom serve`). */
  api: ApiConfig;
  databaseUrl: string;
  /** Attempts a database activity gets for errors other than the database being unreachable. */
  dbMaxAttempts: number;
  /** How long a stopping worker lets activities in flight finish before it cancels them. */
  shutdownGraceMs: number;
  llm: {
    models: Record<Purpose, ModelRef>;
    providers: Record<Provider, ProviderSettings>;
    /** Client-side timeout of one provider request. */
    requestTimeoutMs: number;
    /** How long after its start a run keeps waiting out rate limits (429 / 529) before items fail. */
    rateLimitDeadlineMs: number;
    /** Embedding vector size requested from providers that support it. */
    embeddingDimensions: number;
    /** Summary tokens the outline model takes in one call; beyond it the outline is made by sections. */
    outlineContextTokens: number;
    prices: Record<string, ModelPrice>;
  };
  /** Story sessions (src/workflows/story-session.ts); the names of the seed's settings are kept. */
  sessions: SessionSettings;
  /** Screenplay generation (src/workflows/generate-screenplay.ts). */
  screenplay: {
    /** Tokens the persona contexts may take together in a prompt; over it each is trimmed to its share. */
    personaBudgetTokens: number;
    /** Follow-up calls after a reply cut at max_tokens, before the version is saved marked truncated. */
    maxContinuations: number;
  };
  logLevel: string;
  metricsPort: number;
  otlpEndpoint: string | undefined;
  /**
   * Payload encryption keys (STORYLOOM_PAYLOAD_KEYS, STORYLOOM_PAYLOAD_KEY_ID); undefined =
   * payloads travel in plaintext. Secret: never logged, never in workflow inputs.
   */
  payloadKeys: PayloadKeys | undefined;
  /** The codec server the Web UI and `temporal --codec-endpoint` decode payloads through. */
  codecServer: {
    port: number;
    host: string;
    /** Bearer token required on /codec/* (STORYLOOM_CODEC_TOKEN); secret. */
    token: string | undefined;
    /** Origins allowed by CORS: the Web UI's (STORYLOOM_CODEC_CORS_ORIGINS, default TEMPORAL_UI_URL's). */
    corsOrigins: string[];
  };
}

function payloadKeys(env: Env): PayloadKeys | undefined {
  if (!env.STORYLOOM_PAYLOAD_KEYS) {
    if (env.STORYLOOM_PAYLOAD_KEY_ID) throw new ConfigError('STORYLOOM_PAYLOAD_KEY_ID is set but STORYLOOM_PAYLOAD_KEYS is not');
    return undefined;
  }
  try {
    return parsePayloadKeys(env.STORYLOOM_PAYLOAD_KEYS, env.STORYLOOM_PAYLOAD_KEY_ID);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export interface ApiConfig {
  host: string;
  port: number;
  /** Secrets: bearer tokens accepted on /api and /optimization (none: loopback only). */
  tokens: string[];
  /** Origins CORS allows (none: CORS off). */
  corsOrigins: string[];
  /** Requests per minute per token (per address without one). */
  rateLimitPerMinute: number;
  /** Largest JSON body, in bytes (uploads take the import limit). */
  jsonBodyLimitBytes: number;
}

export interface SessionSettings {
  /** ENABLE_PERFORMANCE_TRACKING: record every LLM call, tool, tool batch and turn (Postgres, log lines, Prometheus). */
  performanceTracking: boolean;
  /** MAX_PARALLEL_TOOL_CALLS: read-only tools of one step run at most this many at a time (1: one after another). */
  maxParallelToolCalls: number;
  /** STORYLOOM_MAX_TOOL_STEPS: rounds of tool calls in one turn before it ends with a reply saying so. */
  maxToolSteps: number;
  /** MAX_TURN_HISTORY: the recent turns the prompt carries in full (older ones are summarised). */
  maxTurnHistory: number;
  /** MAX_CONTEXT_TOKENS: the prompt's budget for the world, the history and the memories. */
  maxContextTokens: number;
  /** STORYLOOM_SESSION_TURNS_PER_RUN: turns before the session's workflow continues as new. */
  turnsPerRun: number;
}

type Env = Record<string, string | undefined>;

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function temporalTls(env: Env): AppConfig['temporal']['tls'] {
  const certPath = env.TEMPORAL_TLS_CERT || undefined;
  const keyPath = env.TEMPORAL_TLS_KEY || undefined;
  if (Boolean(certPath) !== Boolean(keyPath)) throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)');
  const caPath = env.TEMPORAL_TLS_CA || undefined;
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  const on = bool(env, 'TEMPORAL_TLS', false) || Boolean(certPath || caPath || serverName || env.TEMPORAL_API_KEY);
  return on ? { certPath, keyPath, caPath, serverName } : undefined;
}

const DEFAULT_MODELS: Record<Purpose, string> = {
  smoke: 'anthropic:claude-haiku-4-5',
  summary: 'anthropic:claude-haiku-4-5',
  outline: 'anthropic:claude-sonnet-4-6',
  sheet: 'anthropic:claude-sonnet-4-6',
  synthesis: 'anthropic:claude-sonnet-4-6',
  screenplay: 'anthropic:claude-sonnet-4-6',
  embedding: 'openai:text-embedding-3-small',
  session: 'anthropic:claude-haiku-4-5',
};

/** Published list prices (USD per million tokens); override or extend with STORYLOOM_PRICES. */
const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-sonnet-4-6': { input: 3, output: 15 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
};

export function parseModelRef(name: string, value: string): ModelRef {
  const sep = value.indexOf(':');
  const provider = value.slice(0, sep);
  const model = value.slice(sep + 1).trim();
  if (sep <= 0 || !model || !(PROVIDERS as readonly string[]).includes(provider)) {
    throw new ConfigError(
      `${name} must look like <provider>:<model> with provider one of ${PROVIDERS.join(', ')}; got "${value}"`,
    );
  }
  return { provider: provider as Provider, model };
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}; got "${raw}"`);
  }
  return value;
}

/** Longest timer Node keeps (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

function num(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number ≥ 0; got "${raw}"`);
  return value;
}

/**
 * Lowest task-queue rate accepted (one task a minute). Temporal's matching gives a backlog task
 * 60 s to get a token, so below this dispatch stalls with an error every minute instead of
 * slowing down (and 0 sent to the server would pause the queue: here 0 means no cap).
 */
const MIN_TASK_QUEUE_RATE = 1 / 60;

function taskQueueRate(env: Env, name: string): number {
  const value = num(env, name, 0);
  if (value > 0 && value < MIN_TASK_QUEUE_RATE) {
    throw new ConfigError(`${name} must be 0 (no cap) or at least ${MIN_TASK_QUEUE_RATE.toFixed(4)} (one request a minute); got "${env[name]}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false; got "${env[name]}"`);
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL; got ${raw.includes('@') ? 'a value that is not one (not shown: it may hold a password)' : `"${raw}"`}`);
  }
  return raw.replace(/\/+$/, '');
}

/**
 * A URL without a user name or password (a provider's base URL, the OTLP endpoint): fetch refuses
 * such a URL with an error that quotes it whole, and that message would reach logs, the database
 * and workflow history.
 * `instead` says where the credentials go. A refused value is shown with its credentials masked.
 */
function urlWithoutCredentials(env: Env, name: string, instead: string): string | undefined {
  const value = url(env, name);
  if (value === undefined) return undefined;
  const parsed = new URL(value);
  if (!parsed.username && !parsed.password) return value;
  parsed.username = '***';
  parsed.password = '';
  throw new ConfigError(`${name} must not hold a user name or password (${instead}); got "${parsed.toString().replace(/\/+$/, '')}"`);
}

/** An http(s) URL (a link people open), without trailing slashes; `fallback` when unset. */
function webUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (!raw) return fallback;
  let protocol = '';
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // Refused below, with the same message.
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL like ${fallback}; got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

/**
 * A postgres:// URL; `fallback` when unset. A refused value is shown without its password, or
 * not at all when it cannot be parsed (where the password is cannot be told then).
 */
function databaseUrl(env: Env, fallback: string): string {
  const raw = env.DATABASE_URL;
  if (!raw) return fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`DATABASE_URL must be a URL like ${fallback} (percent-encode special characters in the user and password); the value given is not one (not shown: it may hold a password)`);
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    // Only the scheme is said: another scheme's URL may carry its password where a postgres:// one would not.
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL like ${fallback}; got one starting "${parsed.protocol}" (the rest not shown: it may hold a password)`);
  }
  return raw;
}

function prices(env: Env): Record<string, ModelPrice> {
  const raw = env.STORYLOOM_PRICES;
  if (!raw) return { ...DEFAULT_PRICES };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('STORYLOOM_PRICES must be JSON like {"model":{"input":1,"output":5}}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`STORYLOOM_PRICES must be a JSON object like {"model":{"input":1,"output":5}}; got ${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}`);
  }
  const out = { ...DEFAULT_PRICES };
  for (const [model, price] of Object.entries(parsed as Record<string, ModelPrice>)) {
    if (typeof price?.input !== 'number' || typeof price?.output !== 'number') {
      throw new ConfigError(`STORYLOOM_PRICES.${model} needs numeric "input" and "output" (USD per million tokens)`);
    }
    out[model] = { input: price.input, output: price.output };
  }
  return out;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(raw: string | undefined): string {
  const level = (raw || 'info').trim().toLowerCase();
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${raw}"`);
  return level;
}

/** The default drain of a stopping worker: STORYLOOM_LLM_TIMEOUT_MS and this much more (the call's row and result). */
export const SHUTDOWN_GRACE_MARGIN_MS = 10_000;

/**
 * The worker's /metrics port; the Temporal SDK's metrics go on the next one, so 65535 (whose next
 * port does not exist) is refused here rather than failing at start with a message naming no variable.
 */
function metricsPort(env: Env): number {
  try {
    return int(env, 'STORYLOOM_METRICS_PORT', 9464, 0, 65_534);
  } catch (err) {
    throw new ConfigError((err as Error).message.replace('65534;', "65534 (the Temporal SDK's metrics take the next port);"));
  }
}

/** Reads and validates the environment; throws ConfigError naming the variable at fault. */
export function loadConfig(env: Env = process.env): AppConfig {
  const models = {} as Record<Purpose, ModelRef>;
  for (const purpose of [...CHAT_PURPOSES, ...EMBEDDING_PURPOSES]) {
    const name = `STORYLOOM_MODEL_${purpose.toUpperCase()}`;
    models[purpose] = parseModelRef(name, env[name] || DEFAULT_MODELS[purpose]);
  }
  if (models.embedding.provider === 'anthropic') {
    throw new ConfigError('STORYLOOM_MODEL_EMBEDDING: Anthropic has no embeddings API; use openai:… or ollama:…');
  }
  const provider = (p: Provider, keyVar: string | undefined, urlVar: string): ProviderSettings => ({
    apiKey: keyVar ? env[keyVar] || undefined : undefined,
    baseUrl: urlWithoutCredentials(env, urlVar, keyVar ? `set the key in ${keyVar} instead` : 'storyloom sends Ollama no credentials'),
    maxConcurrent: int(env, `STORYLOOM_${p.toUpperCase()}_MAX_CONCURRENT`, 10, 1, 1000),
    maxPerSecond: taskQueueRate(env, `STORYLOOM_${p.toUpperCase()}_MAX_PER_SECOND`),
  });
  // The dev server's Web UI (scripts/temporal.sh) listens on TEMPORAL_UI_PORT: its links follow it unless TEMPORAL_UI_URL says otherwise.
  const uiUrl = env.TEMPORAL_UI_URL ? webUrl(env, 'TEMPORAL_UI_URL', 'http://127.0.0.1:8233') : `http://127.0.0.1:${int(env, 'TEMPORAL_UI_PORT', 8233, 1, 65_535)}`;
  const requestTimeoutMs = int(env, 'STORYLOOM_LLM_TIMEOUT_MS', 120_000, 1, MAX_TIMER_MS);
  return {
    temporal: {
      address: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: env.STORYLOOM_TASK_QUEUE || 'storyloom',
      uiUrl,
      tls: temporalTls(env),
      apiKey: env.TEMPORAL_API_KEY || undefined,
    },
    api: {
      host: env.STORYLOOM_API_HOST || '127.0.0.1',
      port: int(env, 'STORYLOOM_API_PORT', 7880, 0, 65_535),
      tokens: list(env, 'STORYLOOM_API_TOKENS'),
      corsOrigins: list(env, 'STORYLOOM_CORS_ORIGINS'),
      rateLimitPerMinute: int(env, 'STORYLOOM_API_RATE_LIMIT', 1200, 1),
      jsonBodyLimitBytes: int(env, 'STORYLOOM_API_JSON_LIMIT_BYTES', 64 * 1024, 1024),
    },
    databaseUrl: databaseUrl(env, 'postgres://postgres@127.0.0.1:5432/storyloom'),
    dbMaxAttempts: int(env, 'STORYLOOM_DB_MAX_ATTEMPTS', 10, 1),
    // Default: a request's timeout and a margin, so a call answered in that time is recorded, not paid again elsewhere.
    shutdownGraceMs: int(env, 'STORYLOOM_SHUTDOWN_GRACE_MS', requestTimeoutMs + SHUTDOWN_GRACE_MARGIN_MS, 0, MAX_TIMER_MS),
    llm: {
      models,
      providers: {
        anthropic: provider('anthropic', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'),
        openai: provider('openai', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'),
        ollama: provider('ollama', undefined, 'OLLAMA_HOST'),
      },
      requestTimeoutMs,
      rateLimitDeadlineMs: int(env, 'STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS', 6 * 60 * 60 * 1000, 1000),
      embeddingDimensions: int(env, 'STORYLOOM_EMBEDDING_DIMENSIONS', 256, 1, 65_536),
      outlineContextTokens: int(env, 'STORYLOOM_OUTLINE_CONTEXT_TOKENS', 100_000, 1000),
      prices: prices(env),
    },
    sessions: {
      performanceTracking: bool(env, 'ENABLE_PERFORMANCE_TRACKING', true),
      maxParallelToolCalls: int(env, 'MAX_PARALLEL_TOOL_CALLS', 10, 1),
      maxToolSteps: int(env, 'STORYLOOM_MAX_TOOL_STEPS', 8, 1),
      maxTurnHistory: int(env, 'MAX_TURN_HISTORY', 5, 0),
      maxContextTokens: int(env, 'MAX_CONTEXT_TOKENS', 4000, 500),
      turnsPerRun: int(env, 'STORYLOOM_SESSION_TURNS_PER_RUN', 50, 1),
    },
    screenplay: {
      personaBudgetTokens: int(env, 'STORYLOOM_SCREENPLAY_PERSONA_BUDGET_TOKENS', 4000, 100),
      maxContinuations: int(env, 'STORYLOOM_SCREENPLAY_MAX_CONTINUATIONS', 2, 0),
    },
    logLevel: logLevel(env.LOG_LEVEL),
    metricsPort: metricsPort(env),
    otlpEndpoint: urlWithoutCredentials(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'put them in OTEL_EXPORTER_OTLP_HEADERS instead'),
    payloadKeys: payloadKeys(env),
    codecServer: {
      port: int(env, 'STORYLOOM_CODEC_PORT', 8888, 0, 65_535),
      host: env.STORYLOOM_CODEC_HOST || '127.0.0.1',
      token: env.STORYLOOM_CODEC_TOKEN || undefined,
      corsOrigins: (env.STORYLOOM_CODEC_CORS_ORIGINS || new URL(uiUrl).origin).split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean),
    },
  };
}
