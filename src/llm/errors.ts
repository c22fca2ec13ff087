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

/**
 * The error type and code the provider put in its error body, where the SDKs keep them: Anthropic's
 * `APIError` has `type` (`overloaded_error`, …) and the body `{ type: 'error', error: { type,
 * message } }` in `error`; OpenAI's has `type` and `code` (`insufficient_quota`, …) and the body's
 * `error` object in `error`. Present for HTTP errors and for errors sent mid-stream after a 200.
 */
function providerError(err: HttpishError): { type?: string; code?: string; message?: string } {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const body = (err.error ?? {}) as { type?: unknown; code?: unknown; message?: unknown; error?: { type?: unknown; code?: unknown; message?: unknown } };
  const inner = body.error && typeof body.error === 'object' ? body.error : undefined;
  const rec = err as { type?: unknown; code?: unknown };
  return {
    type: str(inner?.type) ?? (str(body.type) !== 'error' ? str(body.type) : undefined) ?? str(rec.type),
    code: str(inner?.code) ?? str(body.code) ?? str(rec.code),
    message: str(inner?.message) ?? str(body.message),
  };
}

/**
 * What an error body's type or code means, for errors that came without an HTTP status (sent in
 * the middle of a stream) and for the ones a status alone misreads (a 429 that is not a rate
 * limit). Anthropic's types end in `_error`; OpenAI's codes are more specific than its types.
 */
const BODY_FAILURES: Readonly<Record<string, LlmFailureType>> = {
  // Anthropic error types
  overloaded_error: LlmFailureType.Overloaded,
  rate_limit_error: LlmFailureType.RateLimited,
  api_error: LlmFailureType.Transient,
  timeout_error: LlmFailureType.Timeout,
  invalid_request_error: LlmFailureType.InvalidRequest,
  request_too_large: LlmFailureType.ContextTooLong,
  authentication_error: LlmFailureType.Authentication,
  permission_error: LlmFailureType.PermissionDenied,
  not_found_error: LlmFailureType.NotFound,
  billing_error: LlmFailureType.InsufficientQuota,
  // OpenAI error codes and types
  insufficient_quota: LlmFailureType.InsufficientQuota,
  billing_hard_limit_reached: LlmFailureType.InsufficientQuota,
  rate_limit_exceeded: LlmFailureType.RateLimited,
  requests: LlmFailureType.RateLimited,
  tokens: LlmFailureType.RateLimited,
  overloaded: LlmFailureType.Overloaded,
  server_error: LlmFailureType.Transient,
  context_length_exceeded: LlmFailureType.ContextTooLong,
  invalid_api_key: LlmFailureType.Authentication,
  model_not_found: LlmFailureType.NotFound,
};

function bodyFailure(err: HttpishError): LlmFailureType | undefined {
  const { type, code, message } = providerError(err);
  const byCode = code !== undefined && Object.hasOwn(BODY_FAILURES, code) ? BODY_FAILURES[code] : undefined;
  const byType = type !== undefined && Object.hasOwn(BODY_FAILURES, type) ? BODY_FAILURES[type] : undefined;
  const failure = byCode ?? byType;
  // As for a 503: a server error that says it is an overload is one.
  if (failure === LlmFailureType.Transient && /overload/i.test(message ?? '')) return LlmFailureType.Overloaded;
  return failure;
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
  const noCredit = (code: number | 'stream', detail: string) =>
    fail(
      LlmFailureType.InsufficientQuota,
      `${where} refused the request: the account is out of credit or quota (${code}); add credit or raise the limit for ${KEY_VARS[provider]}'s account. ${detail}`,
      true,
    );
  const streamFailure = (type: LlmFailureType): Error => {
    const { type: bodyType, code, message } = providerError(e);
    const detail = `${message ?? providerMessage(e)} (${[bodyType, code].filter(Boolean).join(', ')})`;
    switch (type) {
      case LlmFailureType.Overloaded:
        return fail(type, `${where} is overloaded (error sent mid-stream): ${detail}`, false);
      case LlmFailureType.RateLimited:
        return fail(type, `${where} rate limited the request (error sent mid-stream): ${detail}`, false);
      case LlmFailureType.Transient:
        return fail(type, `${where} failed mid-stream: ${detail}`, false);
      case LlmFailureType.Timeout:
        return fail(type, `${where} timed out the request mid-stream: ${detail}`, false);
      case LlmFailureType.InsufficientQuota:
        return noCredit('stream', detail);
      case LlmFailureType.Authentication:
        return fail(type, `${where} rejected the credentials (error sent mid-stream): check ${KEY_VARS[provider]}. ${detail}`, true);
      case LlmFailureType.PermissionDenied:
        return fail(type, `${where} denied access (error sent mid-stream): the key lacks permission for this model. ${detail}`, true);
      case LlmFailureType.NotFound:
        return fail(type, `${where} was not found (error sent mid-stream): check the model name in STORYLOOM_MODEL_* and the base URL. ${detail}`, true);
      case LlmFailureType.ContextTooLong:
        return fail(type, `${where}: the request exceeds the model's context window; send less text. ${detail}`, true);
      case LlmFailureType.InvalidRequest:
        if (CONTEXT_TOO_LONG.test(detail)) return fail(LlmFailureType.ContextTooLong, `${where}: the request exceeds the model's context window; send less text. ${detail}`, true);
        return fail(type, `${where} refused the request as invalid (error sent mid-stream): ${detail}`, true);
      default:
        return fail(LlmFailureType.Transient, `${where} failed mid-stream: ${detail}`, false);
    }
  };

  if (status === undefined) {
    // An error event in the middle of a stream (after HTTP 200): the body says what it was.
    const midStream = bodyFailure(e);
    if (midStream !== undefined) return streamFailure(midStream);
    if (isTimeout(err)) return fail(LlmFailureType.Timeout, `${where} did not answer within the request timeout`, false);
    if (err instanceof SyntaxError) {
      return fail(LlmFailureType.Transient, `${where} sent a malformed response: ${providerMessage(e)}`, false);
    }
    return fail(LlmFailureType.Transient, `${where} could not be reached: ${providerMessage(e)}`, false);
  }
  const detail = providerMessage(e);
  if (bodyFailure(e) === LlmFailureType.InsufficientQuota) return noCredit(status, detail);
  if (status === 402) return noCredit(status, detail);
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
