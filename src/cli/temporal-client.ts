import { Client, Connection } from '@temporalio/client';
import type { AppConfig } from '../config';
import { clientInterceptors } from '../observability/tracing';
import { temporalConnectionOptions } from '../temporal-connection';
import { dataConverterFor } from '../security/data-converter';

export async function connectClient(config: AppConfig): Promise<{ client: Client; close: () => Promise<void> }> {
  // Built first: an unreadable TLS file is a configuration error, not an unreachable server.
  const options = temporalConnectionOptions(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: '5 seconds' });
  } catch (err) {
    throw new UsageError(
      `Cannot reach the Temporal server at ${config.temporal.address} (${err instanceof Error ? err.message : String(err)}). ` +
        'Start one with `npm run temporal:start` or set TEMPORAL_ADDRESS.',
    );
  }
  return {
    client: new Client({
      connection,
      namespace: config.temporal.namespace,
      interceptors: clientInterceptors(config),
      dataConverter: dataConverterFor(config),
    }),
    close: () => connection.close(),
  };
}

/** The Web UI page of one run. */
export function webUiLink(config: AppConfig, workflowId: string, runId?: string): string {
  const base = `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}

/** The Web UI page of a schedule: its spec, state and recent runs. */
export function scheduleWebUiLink(config: AppConfig, scheduleId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/schedules/${encodeURIComponent(scheduleId)}`;
}

/** An error whose message is all the user needs: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
