/**
 * How every client and worker connection reaches Temporal: the address, and for Temporal Cloud
 * or a secured self-hosted cluster, TLS (mTLS certificate and key, CA, server name) and an API key,
 * all from `AppConfig.temporal`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type AppConfig } from './config';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
    serverNameOverride?: string;
  };
  apiKey?: string;
}

/** A PEM file a TEMPORAL_TLS_* variable names; unreadable: a configuration error naming the variable. */
function pem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Options for `Connection.connect` and `NativeConnection.connect` alike (the PEM files read now). */
export function temporalConnectionOptions(config: AppConfig): TemporalConnectionOptions {
  const { address, tls, apiKey } = config.temporal;
  return {
    address,
    ...(tls
      ? {
          tls: {
            ...(tls.certPath && tls.keyPath ? { clientCertPair: { crt: pem('TEMPORAL_TLS_CERT', tls.certPath), key: pem('TEMPORAL_TLS_KEY', tls.keyPath) } } : {}),
            ...(tls.caPath ? { serverRootCACertificate: pem('TEMPORAL_TLS_CA', tls.caPath) } : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}
