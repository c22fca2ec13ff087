import { ApplicationFailure } from '@temporalio/common';
import { LlmFailureType, RATE_LIMIT_LLM_FAILURES } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';
import type { CallLog, LlmCallRecord } from './call-log';
import { toLlmFailure } from './errors';
import { describeOutage, type OutageDetector } from './outage-detector';
import type { ProviderGates } from './rate-gate';
import type { ProviderRegistry } from './registry';
import { structuredAnswerProblem } from './json-schema';
import { cacheKey, type CacheEntry, type CacheStore } from './response-cache';
import type { CallOptions, ChatRequest, ChatResult, EmbedResult, PartialUsage, ToolChatRequest, ToolChatResult } from './types';
import { estimateTokens } from '../domain/tokens';
import { textWithoutNul, withoutNul } from './without-nul';

/** Who made a call: recorded with every `llm_calls` row. */
export interface CallContext {
  workflowId?: string;
  runId?: string;
  activityId?: string;
  activityType?: string;
  attempt?: number;
  /** Numbers the calls of one activity attempt (part of each row's key: a row is written once). */
  nextCallIndex?: () => number;
  signal?: AbortSignal;
  onToken?: (delta: string) => void;
  /**
   * A streamed request that had sent text failed (a rate limit or an overload, often mid-stream)
   * and is sent again within this call: the text given to `onToken` so far is void, and the new
   * request's text follows from its start. `reason` is the failure's message.
   */
  onStreamRetry?: (reason: string) => void;
  /**
   * When set, a successful call's `llm_calls` row and cache entry are not written here: they are
   * collected for the caller to write with its own batch (an activity returns them in its
   * result — durable in the workflow's history from its completion — and the workflow's batch
   * write stores them with the rows they produced). Failed calls are still written at once,
   * except a batch item's (settleBatchItem), whose row goes with the item's recorded outcome.
   */
  collect?: DeferredWrites;
  /** The row key to use instead of the attempt's (a batch item's key is attempt-independent). */
  callKey?: string;
  /**
   * The caller's run pauses itself on a provider outage (ingestion): a call failing during one
   * ends with LlmProviderUnavailable, not retried. Other callers keep the failure as it is and
   * their retries (no run of theirs can pause and probe).
   */
  pausesOnOutage?: boolean;
  /** Rate limits are waited out until then (epoch ms), then fail the item: the run's deadline. */
  runDeadlineAt?: number;
  /** A person waits for this call (a session's turn): rate limits without retry-after back off briefly (rateLimitBackoffMs). */
  interactive?: boolean;
  /**
   * When this activity attempt must hand a still rate-limited call back to Temporal (epoch ms):
   * its start-to-close limit less a margin. Without it, a rate limit is not waited out here.
   */
  attemptEndsAt?: number;
}

/** Writes a caller took over from the service (see CallContext.collect). */
export interface DeferredWrites {
  calls: LlmCallRecord[];
  cacheEntries: { key: string; entry: CacheEntry }[];
}

export function deferredWrites(): DeferredWrites {
  return { calls: [], cacheEntries: [] };
}

/** How long a failed call waits for its row before its error goes on (the row is written later if the database is away). */
const FAILED_ROW_WAIT_MS = 2000;

/**
 * The wait before retrying a rate-limited request that said nothing of when (no retry-after):
 * background work 1 s doubling to 30 s; a call a person waits for (`interactive`) as the official
 * Anthropic and OpenAI SDKs retry, 0.5 s doubling to 8 s.
 */
export function rateLimitBackoffMs(waits: number, interactive = false): number {
  const [first, cap] = interactive ? [500, 8_000] : [1000, 30_000];
  return Math.min(cap, first * 2 ** Math.min(waits, 6));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ChatCall {
  purpose: string;
  provider: Provider;
  model: string;
  /** Bumped whenever a prompt's wording changes, so cached answers to the old prompt are not reused. */
  promptVersion: string;
  request: Omit<ChatRequest, 'model'>;
  useCache: boolean;
  /** With useCache: skip the cache read (always call the provider) but still store the answer. */
  refreshCache?: boolean;
}

export interface EmbedCall {
  purpose: string;
  provider: Provider;
  model: string;
  promptVersion: string;
  texts: string[];
  dimensions?: number;
  useCache: boolean;
  /** With useCache: skip the cache read (always call the provider) but still store the answer. */
  refreshCache?: boolean;
}

/** A chat with native tool calling (never cached: each answer depends on the world's state). */
export interface ToolChatCall {
  purpose: string;
  provider: Provider;
  model: string;
  promptVersion: string;
  request: Omit<ToolChatRequest, 'model'>;
}

export type Cached<T> = T & { cached: boolean };

/**
 * The one path every LLM call takes: response cache, provider adapter, validation, error
 * mapping, call log. A cache hit makes no provider call.
 */
export class LlmService {
  constructor(
    private readonly deps: {
      registry: ProviderRegistry;
      cache: CacheStore;
      callLog: CallLog;
      /** One request's time limit, enforced here (not left to each SDK) so every provider times out alike. */
      requestTimeoutMs: number;
      now?: () => number;
      /** Adaptive concurrency per provider (rate-gate.ts); none = no limit beyond the worker's. */
      gates?: ProviderGates;
      /** Provider outage detection (outage-detector.ts); none = every failure is the item's. */
      outages?: OutageDetector;
      /** Told of each rate-limit wait (a log line). */
      onRateLimitWait?: (wait: { provider: string; model: string; purpose: string; waitMs: number; waits: number }) => void;
      /** Told when a failure is part of a provider outage (a log line). */
      onOutage?: (message: string) => void;
    },
  ) {}

  /** Resolves when every cache write started so far has landed (a run's end awaits it). */
  settle(): Promise<void> {
    return this.deps.cache.flush();
  }

  async chat(call: ChatCall, ctx: CallContext = {}): Promise<Cached<ChatResult>> {
    const request: ChatRequest = { ...call.request, model: call.model };
    const schema = call.request.jsonSchema?.schema;
    const tap = new StreamTap();
    return this.run(
      call,
      'chat',
      request,
      ctx,
      (signal) => this.deps.registry.chat(call.provider).chat(request, { purpose: call.purpose, signal, ...tap.streamOptions(ctx.onToken) }),
      schema ? (result) => structuredAnswerProblem(result.text, schema) : () => undefined,
      tap,
    );
  }

  /**
   * One tool-calling round: the provider's text and tool calls, logged like every other call.
   * With `ctx.onToken` the call streams and text deltas reach it as they arrive.
   * `latencyMs` is the provider request alone (without the call log's write).
   */
  async chatWithTools(call: ToolChatCall, ctx: CallContext = {}): Promise<ToolChatResult & { latencyMs: number }> {
    const request: ToolChatRequest = { ...call.request, model: call.model };
    const now = this.deps.now ?? Date.now;
    let latencyMs = 0;
    const tap = new StreamTap();
    const result = await this.run(
      { ...call, useCache: false },
      'chat',
      request,
      ctx,
      async (signal) => {
        const started = now();
        try {
          return await this.deps.registry.toolChat(call.provider).chatWithTools(request, { purpose: call.purpose, signal, ...tap.streamOptions(ctx.onToken) });
        } finally {
          latencyMs = now() - started;
        }
      },
      () => undefined,
      tap,
    );
    return { ...result, latencyMs };
  }

  async embed(call: EmbedCall, ctx: CallContext = {}): Promise<Cached<EmbedResult>> {
    const request = { model: call.model, texts: call.texts, dimensions: call.dimensions };
    return this.run(
      call,
      'embed',
      request,
      ctx,
      (signal) => this.deps.registry.embedding(call.provider).embed(request, { purpose: call.purpose, signal }),
      (result) => embeddingProblem(result, call),
    );
  }

  /**
   * Batch items share the cache with normal calls: the answer cached for `call` (valid for its
   * schema), recorded as a cache hit, or undefined on a miss (or when the call skips the cache).
   */
  async cachedChat(call: ChatCall, ctx: CallContext = {}): Promise<ChatResult | undefined> {
    if (!call.useCache || call.refreshCache) return undefined;
    const { key, base, problem } = this.chatParts(call, ctx);
    const hit = await this.deps.cache.get<ChatResult>(key);
    if (!hit || problem(hit) !== undefined) return undefined;
    await this.recordDone({ ...base, outcome: 'cache_hit', errorType: null, latencyMs: 0, inputTokens: 0, outputTokens: 0 }, ctx);
    return hit;
  }

  /**
   * Settles one batch item as a normal call would be: an answer is validated (JSON schema), an
   * unusable one becomes an InvalidOutput failure and is never cached, a usable one is cached
   * (with useCache); the row is recorded with the batch flag either way (with ctx.collect, the
   * row and the cache entry are collected for the caller's write of the item's outcome).
   * Returns the failure, or undefined when the answer is usable. `latencyMs` is the batch's
   * processing time.
   */
  async settleBatchItem(
    call: ChatCall,
    ctx: CallContext,
    answer: { ok: true; result: ChatResult; latencyMs: number } | { ok: false; failure: ApplicationFailure; latencyMs: number },
  ): Promise<ApplicationFailure | undefined> {
    const { key, base, problem } = this.chatParts(call, ctx);
    const row = { ...base, batch: true, latencyMs: answer.latencyMs };
    if (!answer.ok) {
      await this.recordDone({ ...row, outcome: 'error', errorType: answer.failure.type ?? 'Unknown', inputTokens: 0, outputTokens: 0 }, ctx);
      return answer.failure;
    }
    answer = { ...answer, result: withoutNul(answer.result) };
    const tokens = { inputTokens: answer.result.usage.inputTokens, outputTokens: answer.result.usage.outputTokens };
    const invalid = problem(answer.result);
    if (invalid !== undefined) {
      await this.recordDone({ ...row, ...tokens, outcome: 'error', errorType: LlmFailureType.InvalidOutput }, ctx);
      return ApplicationFailure.create({
        type: LlmFailureType.InvalidOutput,
        message: `${call.provider} (model ${call.model}) gave an unusable ${call.purpose} answer in a batch: ${invalid}`,
      });
    }
    await this.recordDone({ ...row, ...tokens, outcome: 'ok', errorType: null }, ctx);
    if (call.useCache) {
      const entry: CacheEntry = { provider: call.provider, model: call.model, promptVersion: call.promptVersion, purpose: call.purpose, response: answer.result };
      if (ctx.collect) ctx.collect.cacheEntries.push({ key, entry });
      else await this.deps.cache.put(key, entry);
    }
    return undefined;
  }

  /** A chat call's cache key (the same as `chat` computes), row base and answer check. */
  private chatParts(call: ChatCall, ctx: CallContext) {
    const request: ChatRequest = { ...call.request, model: call.model };
    const key = cacheKey({ provider: call.provider, model: call.model, promptVersion: call.promptVersion, kind: 'chat', request });
    const schema = call.request.jsonSchema?.schema;
    const problem = (result: ChatResult) => (schema ? structuredAnswerProblem(result.text, schema) : undefined);
    return { key, base: baseRecord(call, key, ctx), problem };
  }

  /**
   * Cache, provider, call log. `problem` says why an answer is unusable (or undefined when it is
   * fine): an unusable cached entry is a miss (and is replaced by the new answer), an unusable
   * provider answer is an InvalidOutput failure and is not cached. Every call's row is durable
   * before this returns.
   */
  private async run<T extends ChatResult | EmbedResult>(
    call: { purpose: string; provider: Provider; model: string; promptVersion: string; useCache: boolean; refreshCache?: boolean },
    kind: 'chat' | 'embed',
    request: unknown,
    ctx: CallContext,
    invoke: (signal: AbortSignal) => Promise<T>,
    problem: (result: T) => string | undefined,
    /** The streamed text of the request in flight, for the row of one that fails part-way. */
    tap?: StreamTap,
  ): Promise<Cached<T>> {
    const now = this.deps.now ?? Date.now;
    const key = cacheKey({ provider: call.provider, model: call.model, promptVersion: call.promptVersion, kind, request });
    const started = now();
    let base = baseRecord(call, key, ctx);
    // Each request of a rate-limit wait loop is a row of its own.
    const nextRequest = () => {
      base = { ...base, callKey: callKeyOf(ctx) };
    };
    if (call.useCache && !call.refreshCache) {
      const hit = await this.deps.cache.get<T>(key);
      if (hit && problem(hit) === undefined) {
        await this.recordDone({ ...base, outcome: 'cache_hit', errorType: null, latencyMs: now() - started, inputTokens: 0, outputTokens: 0 }, ctx);
        return { ...hit, cached: true };
      }
    }
    const gate = this.deps.gates?.for(call.provider);
    const item = `${ctx.workflowId ?? ''}/${ctx.activityId ?? ''}`;
    let result: T | undefined;
    let callStarted = started;
    for (let waits = 0; result === undefined; waits++) {
      const permit = await gate?.acquire(ctx.signal);
      callStarted = now();
      const timer = new RequestTimer(this.deps.requestTimeoutMs);
      const timeout = timer.signal;
      tap?.reset(timer);
      try {
        const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
        const answer = await invoke(signal);
        // The openai SDK ends a stream quietly when it is aborted: what it returns is cut short.
        if (signal.aborted) throw Object.assign(new Error('the request was aborted before its answer was complete'), { name: 'AbortError' });
        // An embedding is numbers; a chat answer's text and tool calls may hold a NUL Postgres refuses.
        result = kind === 'chat' ? withoutNul(answer) : answer;
        if (permit) gate?.succeeded();
        this.deps.outages?.succeeded(call.provider, item);
      } catch (err) {
        const timedOut = timeout.aborted && !ctx.signal?.aborted;
        const failure = timedOut
          ? ApplicationFailure.create({
              type: LlmFailureType.Timeout,
              // Begun (any event: a tool call's piece counts as much as text), then silent.
              message: tap?.events
                ? `${call.provider} (model ${call.model}) stopped streaming its answer for ${this.deps.requestTimeoutMs} ms (STORYLOOM_LLM_TIMEOUT_MS)`
                : `${call.provider} (model ${call.model}) did not answer within ${this.deps.requestTimeoutMs} ms (STORYLOOM_LLM_TIMEOUT_MS)`,
            })
          : toLlmFailure(err, call.provider, call.model);
        const errorType = failure instanceof ApplicationFailure ? (failure.type ?? 'Unknown') : 'Cancelled';
        // The call failed either way: a failed row write must not hide the call's own error, nor
        // hold it while the database is away (the row is written when it is back).
        await this.recordFailed({ ...base, outcome: 'error', errorType, latencyMs: now() - callStarted, ...usageCutShort(err, tap) });
        if (!(failure instanceof ApplicationFailure)) throw failure;
        if (RATE_LIMIT_LLM_FAILURES.includes(errorType as LlmFailureType)) {
          const asked = failure.nextRetryDelay !== undefined && failure.nextRetryDelay !== null ? Number(failure.nextRetryDelay) : undefined;
          if (permit) gate?.rateLimited(permit, asked);
          permit?.release();
          const waitMs = asked ?? rateLimitBackoffMs(waits, ctx.interactive);
          await this.waitOutRateLimit(call, ctx, failure, waitMs, waits);
          nextRequest();
          if (tap?.text) ctx.onStreamRetry?.(failure.message);
          continue;
        }
        permit?.release();
        const outage = this.deps.outages?.failed(call.provider, item, errorType, failure.message);
        if (outage && ctx.pausesOnOutage) {
          const message = describeOutage(outage);
          this.deps.onOutage?.(message);
          throw ApplicationFailure.create({ type: LlmFailureType.ProviderUnavailable, message, nonRetryable: true, cause: failure });
        }
        throw failure;
      } finally {
        timer.clear();
        permit?.release();
      }
    }
    const usage = { latencyMs: now() - callStarted, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens };
    const invalid = problem(result);
    if (invalid !== undefined) {
      // A paid answer that cannot be used: recorded with its tokens, never cached, and retryable.
      await this.deps.callLog.record({ ...base, outcome: 'error', errorType: LlmFailureType.InvalidOutput, ...usage });
      throw ApplicationFailure.create({
        type: LlmFailureType.InvalidOutput,
        message: `${call.provider} (model ${call.model}) gave an unusable ${call.purpose} answer: ${invalid}`,
      });
    }
    await this.recordDone({ ...base, outcome: 'ok', errorType: null, ...usage }, ctx);
    if (call.useCache) {
      const entry: CacheEntry = { provider: call.provider, model: call.model, promptVersion: call.promptVersion, purpose: call.purpose, response: result };
      if (ctx.collect) ctx.collect.cacheEntries.push({ key, entry });
      else await this.deps.cache.put(key, entry);
    }
    return { ...result, cached: false };
  }

  /**
   * A rate-limited call waits `waitMs` and goes again, while the run's deadline allows and this
   * attempt has time left for the request; past the deadline the item fails (not retried), and
   * an attempt out of time hands the call back to Temporal, which retries after the same wait.
   */
  private async waitOutRateLimit(call: { provider: Provider; model: string; purpose: string }, ctx: CallContext, failure: ApplicationFailure, waitMs: number, waits: number): Promise<void> {
    const at = (this.deps.now ?? Date.now)() + waitMs;
    if (ctx.runDeadlineAt !== undefined && at > ctx.runDeadlineAt) {
      throw ApplicationFailure.create({
        type: failure.type ?? LlmFailureType.RateLimited,
        message: `${failure.message}; still rate limited at the run's deadline (STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS)`,
        nonRetryable: true,
        cause: failure,
      });
    }
    if (ctx.attemptEndsAt === undefined || at + this.deps.requestTimeoutMs > ctx.attemptEndsAt) throw failure;
    this.deps.onRateLimitWait?.({ provider: call.provider, model: call.model, purpose: call.purpose, waitMs, waits: waits + 1 });
    await sleep(waitMs, ctx.signal);
  }

  /**
   * A failed call's row: awaited as usual (milliseconds), but at most FAILED_ROW_WAIT_MS — while
   * the database is unreachable the call log keeps trying in the background — and never thrown.
   */
  private async recordFailed(row: LlmCallRecord): Promise<void> {
    const written = Promise.resolve(this.deps.callLog.record(row)).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FAILED_ROW_WAIT_MS);
      timer.unref();
    });
    await Promise.race([written, waited]);
    clearTimeout(timer);
  }

  /** A finished call's (or batch item's) row: durable now, or collected for the caller's write (observers see it either way). */
  private async recordDone(row: LlmCallRecord, ctx: CallContext): Promise<void> {
    if (!ctx.collect) {
      await this.deps.callLog.record(row);
      return;
    }
    const at = { ...row, createdAt: new Date() };
    ctx.collect.calls.push(at);
    await this.deps.callLog.record(at, { deferred: true });
  }
}

type BaseRecord = Omit<LlmCallRecord, 'outcome' | 'errorType' | 'latencyMs' | 'inputTokens' | 'outputTokens'>;

function baseRecord(call: { purpose: string; provider: Provider; model: string; promptVersion: string }, key: string, ctx: CallContext): BaseRecord {
  return {
    purpose: call.purpose,
    provider: call.provider,
    model: call.model,
    promptVersion: call.promptVersion,
    workflowId: ctx.workflowId ?? null,
    runId: ctx.runId ?? null,
    activityId: ctx.activityId ?? null,
    activityType: ctx.activityType ?? null,
    attempt: ctx.attempt ?? null,
    cacheKey: key,
    callKey: callKeyOf(ctx),
  };
}

/** The row key of a call made inside an activity; undefined outside one (such rows have no key). */
function callKeyOf(ctx: CallContext): string | null {
  if (ctx.callKey) return ctx.callKey;
  if (!ctx.workflowId || !ctx.activityId || ctx.attempt === undefined || !ctx.nextCallIndex) return null;
  return [ctx.workflowId, ctx.runId ?? '', ctx.activityId, ctx.attempt, ctx.nextCallIndex()].join('/');
}

function embeddingProblem(result: EmbedResult, call: EmbedCall): string | undefined {
  if (!Array.isArray(result?.vectors) || result.vectors.length !== call.texts.length) {
    return `expected ${call.texts.length} vector(s), got ${Array.isArray(result?.vectors) ? result.vectors.length : 'none'}`;
  }
  const bad = result.vectors.findIndex((v) => !Array.isArray(v) || v.length === 0 || (call.dimensions !== undefined && v.length !== call.dimensions));
  return bad === -1 ? undefined : `vector ${bad} is empty or not ${call.dimensions ?? 'the expected'}-dimensional`;
}

/**
 * One request's time limit (STORYLOOM_LLM_TIMEOUT_MS): how long it may wait for its answer to
 * begin and, once it streams, for each next event. A stream that keeps flowing is not cut (a long
 * screenplay outlasts any fixed limit, and each cut would be paid again); the activity's
 * start-to-close and heartbeat timeouts bound it as a whole.
 */
class RequestTimer {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The stream said something: its silence is counted from now. */
  restart(): void {
    if (!this.controller.signal.aborted) this.timer.refresh();
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * The text a streamed request produced, kept for the request's row should it fail part-way: a
 * provider bills a stream cut short (a cancel, a timeout) for what it had produced. Each event
 * of the stream restarts the request's timer.
 */
class StreamTap {
  text = '';
  /** Events of the stream so far (text, tool-call pieces, usage). */
  events = 0;
  private timer: RequestTimer | undefined;

  /** The call's stream options: none when nobody wants the deltas (the request does not stream). */
  streamOptions(onToken: ((delta: string) => void) | undefined): Pick<CallOptions, 'onToken' | 'onStreamEvent'> {
    if (!onToken) return {};
    return {
      onToken: (raw) => {
        // As the answer is stored (withoutNul): the watchers' text is the saved text.
        const delta = textWithoutNul(raw);
        this.text += delta;
        if (delta) onToken(delta);
      },
      onStreamEvent: () => {
        this.events++;
        this.timer?.restart();
      },
    };
  }

  /** A new request: no text yet, and its own timer. */
  reset(timer: RequestTimer): void {
    this.text = '';
    this.events = 0;
    this.timer = timer;
  }
}

/**
 * The tokens a failed request used, as far as they are known: the prompt's when the provider said
 * it before failing (`partialUsage`), the output streamed so far estimated from its text (the
 * provider's own count comes only with the end of a stream). Zero for what is not known.
 */
function usageCutShort(err: unknown, tap: StreamTap | undefined): { inputTokens: number; outputTokens: number } {
  const partial = (err as { partialUsage?: PartialUsage } | null)?.partialUsage;
  return { inputTokens: partial?.inputTokens ?? 0, outputTokens: tap?.text ? estimateTokens(tap.text) : 0 };
}
