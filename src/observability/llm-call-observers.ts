/**
 * Call logs (see src/llm/call-log.ts) that observe every LLM call without storing it: one feeds
 * the Prometheus metrics, one writes a debug line. They see exactly what `llm_calls` gets, so
 * the three never disagree.
 */
import type { CallLog, LlmCallRecord } from '../llm/call-log';
import type { Logger } from './logger';
import type { AppMetrics } from './metrics';

export class MetricsCallLog implements CallLog {
  constructor(private readonly metrics: AppMetrics) {}

  record(row: LlmCallRecord): void {
    const { provider, model, purpose } = row;
    this.metrics.llmCallDuration.observe({ provider, model, purpose, outcome: row.outcome }, row.latencyMs / 1000);
    this.metrics.llmCache.inc({ purpose, result: row.outcome === 'cache_hit' ? 'hit' : 'miss' });
    if (row.outcome === 'error') {
      this.metrics.llmErrors.inc({ provider, model, purpose, error_type: row.errorType ?? 'Unknown' });
    }
    if (row.inputTokens) this.metrics.llmTokens.inc({ provider, model, purpose, direction: 'input' }, row.inputTokens);
    if (row.outputTokens) this.metrics.llmTokens.inc({ provider, model, purpose, direction: 'output' }, row.outputTokens);
  }

  async flush(): Promise<void> {}
}

/**
 * One debug line per call (LOG_LEVEL=debug): at info a run would log thousands, and the metrics
 * and `llm_calls` already hold them; a failed attempt also reaches the log through the SDK's
 * "Activity failed" warning. Only what identifies and measures the call: never the prompt, the
 * answer or anything from the request (the record does not carry them, and this is why).
 */
export class LoggingCallLog implements CallLog {
  constructor(private readonly logger: Logger) {}

  record(row: LlmCallRecord): void {
    if (!this.logger.isLevelEnabled('debug')) return;
    this.logger.debug(
      {
        event: 'llm_call',
        purpose: row.purpose,
        provider: row.provider,
        model: row.model,
        promptVersion: row.promptVersion,
        outcome: row.outcome,
        ...(row.errorType ? { errorType: row.errorType } : {}),
        latencyMs: row.latencyMs,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        // Also set by the log mixin inside activities; repeated here for calls made elsewhere.
        ...(row.workflowId ? { workflowId: row.workflowId } : {}),
        ...(row.runId ? { runId: row.runId } : {}),
        ...(row.activityType ? { activityType: row.activityType } : {}),
        ...(row.activityId ? { activityId: row.activityId } : {}),
        ...(row.attempt != null ? { attempt: row.attempt } : {}),
      },
      'llm call',
    );
  }

  async flush(): Promise<void> {}
}
