import { ApplicationFailure } from '@temporalio/common';
import { LlmFailureType } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';
import type { CallLog, LlmCallRecord } from './call-log';
import { toLlmFailure } from './errors';
import type { ProviderRegistry } from './registry';
import { cacheKey, type CacheStore } from './response-cache';
import type { ChatRequest, ChatResult, EmbedResult } from './types';

/** Who made a call: recorded with every `llm_calls` row. */
export interface CallContext {
  workflowId?: string;
  runId?: string;
  activityId?: string;
  activityType?: string;
  attempt?: number;
  signal?: AbortSignal;
  onToken?: (delta: string) => void;
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

export type Cached<T> = T & { cached: boolean };

/**
 * The one path every LLM call takes: response cache, provider adapter, error mapping, call log.
 * A cache hit makes no provider call.
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
    },
  ) {}

  /** Resolves when every cache write started so far has landed (a run's end awaits it). */
  settle(): Promise<void> {
    return this.deps.cache.flush();
  }

  async chat(call: ChatCall, ctx: CallContext = {}): Promise<Cached<ChatResult>> {
    const request: ChatRequest = { ...call.request, model: call.model };
    const result = await this.run(call, 'chat', request, ctx, (signal) =>
      this.deps.registry.chat(call.provider).chat(request, { purpose: call.purpose, signal, onToken: ctx.onToken }),
    );
    if (call.request.jsonSchema && !result.cached) assertJson(result.text, call);
    return result;
  }

  async embed(call: EmbedCall, ctx: CallContext = {}): Promise<Cached<EmbedResult>> {
    const request = { model: call.model, texts: call.texts, dimensions: call.dimensions };
    return this.run(call, 'embed', request, ctx, (signal) =>
      this.deps.registry.embedding(call.provider).embed(request, { purpose: call.purpose, signal }),
    );
  }

  private async run<T extends ChatResult | EmbedResult>(
    call: { purpose: string; provider: Provider; model: string; promptVersion: string; useCache: boolean; refreshCache?: boolean; request?: unknown },
    kind: 'chat' | 'embed',
    request: unknown,
    ctx: CallContext,
    invoke: (signal: AbortSignal) => Promise<T>,
  ): Promise<Cached<T>> {
    const now = this.deps.now ?? Date.now;
    const key = cacheKey({ provider: call.provider, model: call.model, promptVersion: call.promptVersion, kind, request });
    const started = now();
    const base: Omit<LlmCallRecord, 'outcome' | 'errorType' | 'latencyMs' | 'inputTokens' | 'outputTokens'> = {
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
    };
    if (call.useCache && !call.refreshCache) {
      const hit = await this.deps.cache.get<T>(key);
      if (hit) {
        this.deps.callLog.record({ ...base, outcome: 'cache_hit', errorType: null, latencyMs: now() - started, inputTokens: 0, outputTokens: 0 });
        return { ...hit, cached: true };
      }
    }
    let result: T;
    const timeout = AbortSignal.timeout(this.deps.requestTimeoutMs);
    try {
      result = await invoke(ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout);
    } catch (err) {
      const timedOut = timeout.aborted && !ctx.signal?.aborted;
      const failure = timedOut
        ? ApplicationFailure.create({
            type: LlmFailureType.Timeout,
            message: `${call.provider} (model ${call.model}) did not answer within ${this.deps.requestTimeoutMs} ms (STORYLOOM_LLM_TIMEOUT_MS)`,
          })
        : toLlmFailure(err, call.provider, call.model);
      const errorType = failure instanceof ApplicationFailure ? (failure.type ?? 'Unknown') : 'Cancelled';
      this.deps.callLog.record({ ...base, outcome: 'error', errorType, latencyMs: now() - started, inputTokens: 0, outputTokens: 0 });
      throw failure;
    }
    this.deps.callLog.record({
      ...base,
      outcome: 'ok',
      errorType: null,
      latencyMs: now() - started,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
    });
    // Only answers that passed validation are cached (see chat()); embeddings always are.
    if (call.useCache && (kind === 'embed' || isCacheable(result as ChatResult, call.request))) {
      await this.deps.cache.put(key, { provider: call.provider, model: call.model, promptVersion: call.promptVersion, purpose: call.purpose, response: result });
    }
    return { ...result, cached: false };
  }
}

function isCacheable(result: ChatResult, request: unknown): boolean {
  const schema = (request as ChatCall['request'] | undefined)?.jsonSchema;
  if (!schema) return true;
  try {
    JSON.parse(result.text);
    return true;
  } catch {
    return false;
  }
}

function assertJson(text: string, call: ChatCall): void {
  try {
    JSON.parse(text);
  } catch {
    throw ApplicationFailure.create({
      type: LlmFailureType.InvalidOutput,
      message: `${call.provider} (model ${call.model}) returned text that is not JSON for a ${call.purpose} request`,
    });
  }
}
