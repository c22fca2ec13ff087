/**
 * What an operation shared by the CLI and the HTTP API needs: the configuration, the database
 * and a Temporal client, each opened on first use by the caller's context (CliContext, ApiContext).
 */
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { UsageError } from '../cli/temporal-client';

export interface OperationContext {
  readonly config: AppConfig;
  db(): Promise<DataSource>;
  client(): Promise<Client>;
}

/**
 * Why an operation refused a request. The CLI prints the message (exit 2, it is a UsageError);
 * the API answers the status the code stands for (src/api/errors.ts).
 */
export type OperationErrorCode = 'bad_request' | 'not_found' | 'conflict' | 'payload_too_large' | 'unsupported_media_type';

export class OperationError extends UsageError {
  constructor(
    readonly code: OperationErrorCode,
    message: string,
  ) {
    super(message);
  }
}
