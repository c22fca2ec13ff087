/**
 * Workflow interceptors for OpenTelemetry tracing. Loaded into the workflow sandbox (listed in
 * the worker's `interceptors.workflowModules`, or in `bundleWorkflowCode`'s
 * `workflowInterceptorModules` for a pre-built bundle) only when tracing is on; it must stay
 * workflow-safe: nothing but the SDK's workflow-side interceptors.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
