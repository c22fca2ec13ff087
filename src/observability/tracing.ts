/**
 * Optional OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (`config.otlpEndpoint`): spans for workflow start (client), workflow and activity execution
 * (Temporal's interceptors, linked through headers) and one per LLM call, exported over
 * OTLP/HTTP to `<endpoint>/v1/traces`. Off, nothing here is loaded into the worker: no
 * interceptors, no sinks, no provider.
 */
import { type Context, type ContextManager, ROOT_CONTEXT, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { ClientInterceptors } from '@temporalio/client';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AppConfig } from '../config';
import type { CallLog, LlmCallRecord } from '../llm/call-log';

export interface Tracing {
  tracer: Tracer;
  activityInterceptors: ActivityInterceptorsFactory;
  /** Sinks through which workflow-side spans leave the sandbox. */
  sinks: InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }>;
  /** Only honoured when the worker bundles its workflows itself; see workflowInterceptorModules. */
  workflowModules: string[];
  /** Exports the spans still buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

let started: Tracing | undefined;

/**
 * The process's tracing, started on first use (OpenTelemetry's provider, context manager and
 * propagator are process globals), or undefined when tracing is off.
 */
export function tracingFor(config: AppConfig): Tracing | undefined {
  if (!config.otlpEndpoint) return undefined;
  started ??= startTracing(config.otlpEndpoint);
  return started;
}

/** Interceptors for a Temporal Client (the starter): its spans become the runs' parents. */
export function clientInterceptors(config: AppConfig): ClientInterceptors {
  const tracing = tracingFor(config);
  if (!tracing) return {};
  const { OpenTelemetryWorkflowClientInterceptor } = require('@temporalio/interceptors-opentelemetry/lib/client') as typeof import('@temporalio/interceptors-opentelemetry/lib/client');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}

/**
 * Modules to pass to `bundleWorkflowCode({ workflowInterceptorModules })` when workflows are
 * bundled ahead of time: a pre-built bundle ignores the worker's `workflowModules`.
 */
export function workflowInterceptorModules(config: AppConfig): string[] {
  return config.otlpEndpoint ? [TRACING_WORKFLOW_MODULE()] : [];
}

const TRACING_WORKFLOW_MODULE = () => require.resolve('./tracing-workflow-interceptors');

/** The SDK packages are required here, not imported, so a process with tracing off never loads them. */
function startTracing(endpoint: string): Tracing {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { Resource } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } =
    require('@temporalio/interceptors-opentelemetry/lib/worker') as typeof import('@temporalio/interceptors-opentelemetry/lib/worker');
  const resource = new Resource({ 'service.name': 'storyloom' });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The context manager makes an activity's span the parent of the spans started inside it;
  // register() also installs the W3C propagator the interceptors use to link across headers.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const tracer = provider.getTracer('storyloom');
  return {
    tracer,
    activityInterceptors: (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    sinks: { exporter: makeWorkflowExporter(spanProcessor, resource) },
    workflowModules: [TRACING_WORKFLOW_MODULE()],
    shutdown: () => provider.shutdown(),
  };
}

/**
 * A span per LLM call, child of the activity's span, reconstructed from the call record
 * (start = now - latency) so the LLM service needs no tracing code of its own.
 */
export class TracingCallLog implements CallLog {
  constructor(private readonly tracer: Tracer) {}

  record(row: LlmCallRecord): void {
    const end = Date.now();
    const span = this.tracer.startSpan(`llm ${row.purpose}`, {
      startTime: end - row.latencyMs,
      attributes: {
        'llm.provider': row.provider,
        'llm.model': row.model,
        'llm.purpose': row.purpose,
        'llm.prompt_version': row.promptVersion,
        'llm.outcome': row.outcome,
        'llm.input_tokens': row.inputTokens,
        'llm.output_tokens': row.outputTokens,
      },
    });
    if (row.outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: row.errorType ?? 'error' });
    span.end(end);
  }

  async flush(): Promise<void> {}
}

/** OpenTelemetry's context manager over AsyncLocalStorage (the SDK ships it in a package we do not depend on). */
class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, () => fn.call(thisArg, ...args));
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (...args: unknown[]) => this.with(context, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
