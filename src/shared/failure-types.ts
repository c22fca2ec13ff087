/**
 * Stable `ApplicationFailure.type` names for provider errors. Workflows use them in retry
 * policies (`nonRetryableErrorTypes`) and the call log records them. Pure module.
 */
export const LlmFailureType = {
  /** 429: the next attempt waits what Retry-After says. */
  RateLimited: 'LlmRateLimited',
  /** 529 (Anthropic) or 503 overload. */
  Overloaded: 'LlmOverloaded',
  /** 5xx, connection reset, malformed response body. */
  Transient: 'LlmTransient',
  /** The request took longer than the client timeout. */
  Timeout: 'LlmTimeout',
  InvalidRequest: 'LlmInvalidRequest',
  Authentication: 'LlmAuthentication',
  PermissionDenied: 'LlmPermissionDenied',
  NotFound: 'LlmNotFound',
  ContextTooLong: 'LlmContextTooLong',
  /**
   * The account cannot pay for the call (OpenAI's 429 `insufficient_quota`, Anthropic's
   * `billing_error`): no wait or retry helps until someone adds credit or raises the quota.
   */
  InsufficientQuota: 'LlmInsufficientQuota',
  /** Structured output that does not satisfy its schema (retryable: the model may do better). */
  InvalidOutput: 'LlmInvalidOutput',
  /**
   * Most recent calls to the provider failed the same transient way across items: the item is
   * not at fault and is not retried; the workflow pauses itself (see src/llm/outage-detector.ts).
   */
  ProviderUnavailable: 'LlmProviderUnavailable',
} as const;
export type LlmFailureType = (typeof LlmFailureType)[keyof typeof LlmFailureType];

export const RETRYABLE_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.RateLimited,
  LlmFailureType.Overloaded,
  LlmFailureType.Transient,
  LlmFailureType.Timeout,
  LlmFailureType.InvalidOutput,
];

export const NON_RETRYABLE_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.InvalidRequest,
  LlmFailureType.Authentication,
  LlmFailureType.PermissionDenied,
  LlmFailureType.NotFound,
  LlmFailureType.ContextTooLong,
  LlmFailureType.InsufficientQuota,
  LlmFailureType.ProviderUnavailable,
];

/**
 * Failures that are the provider's load, not the item's: waited out with the provider's
 * Retry-After until the run's deadline, never counted against an item's attempts.
 */
export const RATE_LIMIT_LLM_FAILURES: readonly LlmFailureType[] = [LlmFailureType.RateLimited, LlmFailureType.Overloaded];

/** Attempts an LLM activity gets for failures that are not rate limits (it had 8 as a plain retry policy). */
export const LLM_MAX_ATTEMPTS = 8;

/** How long a run waits out rate limits, from its start, unless STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS says otherwise. */
export const DEFAULT_RATE_LIMIT_DEADLINE_MS = 6 * 60 * 60 * 1000;

/** Failures that will fail every other item the same way: a run stops at the first one. */
export const RUN_FATAL_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.Authentication,
  LlmFailureType.PermissionDenied,
  LlmFailureType.NotFound,
  LlmFailureType.InsufficientQuota,
];
