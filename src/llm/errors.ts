/**
 * Turns provider SDK errors into Temporal failures with a stable `type` (see
 * shared/failure-types.ts). Retries belong to Temporal: 429 / 529 / 5xx / timeouts stay
 * retryable (429 carries the provider's Retry-After as `nextRetryDelay`); 4xx that a retry
 * cannot fix are non-retryable with a message that says what to fix.
 */
import { ApplicationFailure } from '@temporalio/common';
import { LlmFailureType } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';

const KEY_VARS: Record<Provider, string> = {
  anthropic: 'ANTHROPIC_API_KEY',
  openai: 'OPENAI_API_KEY',
  ollama: 'OLLAMA_HOST',
};

interface HttpishError {
  status?: number;
  status_code?: number;
  headers?: Headers | Record<string, string>;
  message?: string;
  name?: string;
  error?: unknown;
}

function header(headers: HttpishError['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string>;
  return rec[name] ?? rec[name.toLowerCase()];
}

/** Milliseconds the provider asked us to wait, from `retry-after-ms` or `retry-after` (seconds or a date). */
export function retryAfterMs(headers: HttpishError['headers'], now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Math.ceil(Number(ms));
  const after = header(headers, 'retry-after');
  if (after === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(after.trim())) return Math.ceil(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const CONTEXT_TOO_LONG = /prompt is too long|context[_ ]length|maximum context|too many tokens|context window/i;

/** Detail of the provider's message without the SDK's "400 " prefix. */
function providerMessage(err: HttpishError): string {
  return (err.message ?? String(err)).replace(/^\d{3}\s+/, '').slice(0, 500);
}

function isAbort(err: unknown): boolean {
  const name = (err as HttpishError)?.name;
  return name === 'AbortError' || name === 'APIUserAbortError';
}

function isTimeout(err: unknown): boolean {
  const name = (err as HttpishError)?.name ?? '';
  const ctor = (err as object)?.constructor?.name ?? '';
  return name === 'TimeoutError' || ctor === 'APIConnectionTimeoutError' || /timed? ?out/i.test((err as Error)?.message ?? '');
}

/**
 * Maps any error thrown by an adapter to an ApplicationFailure. An abort caused by the
 * activity's cancellation is returned unchanged so Temporal sees a cancellation.
 */
export function toLlmFailure(err: unknown, provider: Provider, model: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (isAbort(err)) return err as Error;
  const e = (err ?? {}) as HttpishError;
  const status = e.status ?? e.status_code;
  const where = `${provider} (model ${model})`;
  const fail = (type: LlmFailureType, message: string, nonRetryable: boolean, nextRetryDelay?: number) =>
    ApplicationFailure.create({ type, message, nonRetryable, nextRetryDelay, cause: err instanceof Error ? err : undefined });

  if (status === undefined) {
    if (isTimeout(err)) return fail(LlmFailureType.Timeout, `${where} did not answer within the request timeout`, false);
    if (err instanceof SyntaxError) {
      return fail(LlmFailureType.Transient, `${where} sent a malformed response: ${providerMessage(e)}`, false);
    }
    return fail(LlmFailureType.Transient, `${where} could not be reached: ${providerMessage(e)}`, false);
  }
  const detail = providerMessage(e);
  if (status === 429) {
    const wait = retryAfterMs(e.headers);
    return fail(LlmFailureType.RateLimited, `${where} rate limited the request (429)${wait !== undefined ? `; retry after ${wait} ms` : ''}`, false, wait);
  }
  if (status === 529) return fail(LlmFailureType.Overloaded, `${where} is overloaded (529): ${detail}`, false, retryAfterMs(e.headers));
  if (status === 503 && /overload/i.test(detail)) {
    return fail(LlmFailureType.Overloaded, `${where} is overloaded (503): ${detail}`, false, retryAfterMs(e.headers));
  }
  if (status === 408) return fail(LlmFailureType.Timeout, `${where} timed out the request (408)`, false);
  if (status >= 500 || status === 409) return fail(LlmFailureType.Transient, `${where} failed with ${status}: ${detail}`, false);
  if (status === 401) {
    return fail(LlmFailureType.Authentication, `${where} rejected the credentials (401): check ${KEY_VARS[provider]}. ${detail}`, true);
  }
  if (status === 403) return fail(LlmFailureType.PermissionDenied, `${where} denied access (403): the key lacks permission for this model. ${detail}`, true);
  if (status === 404) {
    return fail(LlmFailureType.NotFound, `${where} was not found (404): check the model name in STORYLOOM_MODEL_* and the base URL. ${detail}`, true);
  }
  if (status === 413 || CONTEXT_TOO_LONG.test(detail)) {
    return fail(LlmFailureType.ContextTooLong, `${where}: the request exceeds the model's context window; send less text. ${detail}`, true);
  }
  return fail(LlmFailureType.InvalidRequest, `${where} refused the request as invalid (${status}): ${detail}`, true);
}
