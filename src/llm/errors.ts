/**
 * Turns provider SDK errors into Temporal failures with a stable `type` (see
 * shared/failure-types.ts). Retries belong to Temporal: 429 / 529 / 5xx / timeouts stay
 * retryable (429 carries the provider's Retry-After as `nextRetryDelay`); 4xx that a retry
 * cannot fix are non-retryable with a message that says what to fix.
 */
import { ApplicationFailure } from '@temporalio/common';
import { LlmFailureType } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';

/** The variable that holds each provider's credentials (Ollama's: where it is; it takes none). */
export const KEY_VARS: Record<Provider, string> = {
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

/**
 * Key-shaped words in a provider's message: OpenAI quotes a rejected key's ends
 * (`sk-WRONG*****4444`), and messages end up in histories, logs and run rows. A key has a digit
 * or a mask's `*` in it, which a model's name (`pk-instruct-large`) or prose (`Bearer auth`) has not.
 */
const KEY_SHAPED = /\b(?:sk|rk|pk|sess)-(?=[\w*-]*[\d*])[\w*-]{4,}|\bbearer\s+(?=\S*[\d*])\S{8,}/gi;

/** `text` with anything shaped like a key hidden: every provider text a failure carries goes through it. */
export function withoutKeys(text: string): string {
  return text.replace(KEY_SHAPED, '[key hidden]');
}

/** Detail of the provider's message without the SDK's "400 " prefix, and without anything shaped like a key. */
function providerMessage(err: HttpishError): string {
  return withoutKeys((err.message ?? String(err)).replace(/^\d{3}\s+/, '')).slice(0, 500);
}

/**
 * The SDK error a failure keeps as its cause, its message and stack without keys (Temporal
 * records a failure's cause chain in history, and the worker logs it), its status and code kept.
 */
function causeWithoutKeys(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const copy = new Error(withoutKeys(err.message));
  copy.name = err.name;
  copy.stack = withoutKeys(err.stack ?? '');
  const { status, code } = err as { status?: unknown; code?: unknown };
  return Object.assign(copy, status !== undefined ? { status } : {}, code !== undefined ? { code } : {});
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
 * The HTTP status a synchronous call would have had, by the error type or code a provider puts in
 * its error body: for errors sent in the middle of a stream (after a 200, so with no status of
 * their own), for a batch item's error (anthropic.batch.ts), and where the body says more than the
 * status (a 429 that is an account out of credit). Anthropic's types end in `_error`; OpenAI's
 * codes are more specific than its types, so a code is looked up first.
 */
const STATUS_OF_ERROR_BODY: Readonly<Record<string, number>> = {
  // Anthropic error types
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  timeout_error: 408,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
  // OpenAI error codes and types (a server error that says "overloaded" is one, as for a 503)
  insufficient_quota: 402,
  billing_hard_limit_reached: 402,
  invalid_api_key: 401,
  model_not_found: 404,
  context_length_exceeded: 413,
  rate_limit_exceeded: 429,
  requests: 429,
  tokens: 429,
  server_error: 503,
  overloaded: 529,
};

/** The status STATUS_OF_ERROR_BODY gives an error type or code; undefined for one it does not know. */
export function statusOfErrorType(typeOrCode: string | undefined): number | undefined {
  return typeOrCode !== undefined && Object.hasOwn(STATUS_OF_ERROR_BODY, typeOrCode) ? STATUS_OF_ERROR_BODY[typeOrCode] : undefined;
}

function statusOfErrorBody(err: HttpishError): number | undefined {
  const { type, code } = providerError(err);
  return statusOfErrorType(code) ?? statusOfErrorType(type);
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
 * The SDK refused to send the request because it has no credentials, before any HTTP exchange (so
 * no status): Anthropic's client throws "Could not resolve authentication method. Expected one of
 * apiKey, authToken, …" (a plain Error, or an AnthropicError from a stream); OpenAI's constructor
 * throws an OpenAIError "Missing credentials. Please pass an `apiKey`, or set the `OPENAI_API_KEY`
 * environment variable." (older releases: "The OPENAI_API_KEY environment variable is missing or
 * empty"). Neither SDK has a class of its own for it, only its base class: recognised by the message.
 */
const MISSING_CREDENTIALS = /could not resolve authentication method|missing credentials\. please pass an `?apiKey|API_KEY environment variable is missing/i;

function isMissingCredentials(err: unknown): boolean {
  const e = err as HttpishError | undefined;
  return e?.status === undefined && e?.status_code === undefined && MISSING_CREDENTIALS.test(e?.message ?? '');
}

/**
 * Maps any error thrown by an adapter to an ApplicationFailure. An abort caused by the
 * activity's cancellation is returned unchanged so Temporal sees a cancellation.
 */
export function toLlmFailure(err: unknown, provider: Provider, model: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (isAbort(err)) return err as Error;
  const e = (err ?? {}) as HttpishError;
  const where = `${provider} (model ${model})`;
  const fail = (type: LlmFailureType, message: string, nonRetryable: boolean, nextRetryDelay?: number) =>
    ApplicationFailure.create({ type, message, nonRetryable, nextRetryDelay, cause: causeWithoutKeys(err) });
  const httpStatus = e.status ?? e.status_code;
  const bodyStatus = statusOfErrorBody(e);
  if (httpStatus === undefined && bodyStatus === undefined) {
    // As a 401 would be: no retry, and the run stops (RUN_FATAL_LLM_FAILURES), not an outage.
    if (isMissingCredentials(err)) {
      return fail(LlmFailureType.Authentication, `${where} has no credentials: set ${KEY_VARS[provider]} (no request was sent). ${providerMessage(e)}`, true);
    }
    if (isTimeout(err)) return fail(LlmFailureType.Timeout, `${where} did not answer within the request timeout`, false);
    if (err instanceof SyntaxError) {
      return fail(LlmFailureType.Transient, `${where} sent a malformed response: ${providerMessage(e)}`, false);
    }
    return fail(LlmFailureType.Transient, `${where} could not be reached: ${providerMessage(e)}`, false);
  }
  // An error event sent mid-stream (after HTTP 200) has no status: its body says which it would
  // have been. An account out of credit is that whatever the status (OpenAI's is a 429).
  const status = bodyStatus === 402 || httpStatus === undefined ? bodyStatus! : httpStatus;
  const code = httpStatus === undefined ? `${status}, sent mid-stream` : String(status);
  const body = providerError(e);
  const detail = httpStatus === undefined ? `${body.message ? withoutKeys(body.message).slice(0, 500) : providerMessage(e)} (${[body.type, body.code].filter(Boolean).join(', ')})` : providerMessage(e);
  if (status === 402) {
    return fail(
      LlmFailureType.InsufficientQuota,
      `${where} refused the request: the account is out of credit or quota (${code}); add credit or raise the limit for ${KEY_VARS[provider]}'s account. ${detail}`,
      true,
    );
  }
  if (status === 429) {
    const wait = retryAfterMs(e.headers);
    return fail(LlmFailureType.RateLimited, `${where} rate limited the request (${code})${wait !== undefined ? `; retry after ${wait} ms` : ''}`, false, wait);
  }
  if (status === 529) return fail(LlmFailureType.Overloaded, `${where} is overloaded (${code}): ${detail}`, false, retryAfterMs(e.headers));
  if (status === 503 && /overload/i.test(detail)) {
    return fail(LlmFailureType.Overloaded, `${where} is overloaded (${code}): ${detail}`, false, retryAfterMs(e.headers));
  }
  if (status === 408) return fail(LlmFailureType.Timeout, `${where} timed out the request (${code})`, false);
  if (status >= 500 || status === 409) return fail(LlmFailureType.Transient, `${where} failed with ${code}: ${detail}`, false);
  if (status === 401) {
    return fail(LlmFailureType.Authentication, `${where} rejected the credentials (${code}): check ${KEY_VARS[provider]}. ${detail}`, true);
  }
  if (status === 403) return fail(LlmFailureType.PermissionDenied, `${where} denied access (${code}): the key lacks permission for this model. ${detail}`, true);
  if (status === 404) {
    return fail(LlmFailureType.NotFound, `${where} was not found (${code}): check the model name in STORYLOOM_MODEL_* and the base URL. ${detail}`, true);
  }
  if (status === 413 || CONTEXT_TOO_LONG.test(detail)) {
    return fail(LlmFailureType.ContextTooLong, `${where}: the request exceeds the model's context window; send less text. ${detail}`, true);
  }
  return fail(LlmFailureType.InvalidRequest, `${where} refused the request as invalid (${code}): ${detail}`, true);
}
