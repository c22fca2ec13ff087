/**
 * How every client and worker connection reaches Temporal: the address, and for Temporal Cloud
 * or a secured self-hosted cluster, TLS (mTLS certificate and key, CA, server name) and an API key,
 * all from `AppConfig.temporal`.
 */
import { readFileSync } from 'node:fs';
import type { AppConfig } from './config';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
    serverNameOverride?: string;
  };
  apiKey?: string;
}

/** Options for `Connection.connect` and `NativeConnection.connect` alike. */
export function temporalConnectionOptions(config: AppConfig): TemporalConnectionOptions {
  const { address, tls, apiKey } = config.temporal;
  return {
    address,
    ...(tls
      ? {
          tls: {
            ...(tls.certPath && tls.keyPath ? { clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } } : {}),
            ...(tls.caPath ? { serverRootCACertificate: readFileSync(tls.caPath) } : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}
