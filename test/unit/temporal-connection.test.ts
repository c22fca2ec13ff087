/**
 * The Temporal connection options built from the environment (src/config.ts loadConfig, then
 * src/temporal-connection.ts): the address, TLS on or off, the mTLS pair, CA and server name read
 * from PEM files, and the API key. Real PEM files made by openssl in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal-connection';

let dir: string;
let certPath: string;
let keyPath: string;
let caPath: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'storyloom-tls-'));
  const pair = (name: string) => {
    const key = path.join(dir, `${name}-key.pem`);
    const crt = path.join(dir, `${name}-crt.pem`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
    return { key, crt };
  };
  const client = pair('client');
  certPath = client.crt;
  keyPath = client.key;
  caPath = pair('ca').crt;
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const options = (env: Record<string, string>) => temporalConnectionOptions(loadConfig(env));

it('without TLS settings: the address only (no tls, no apiKey keys at all)', () => {
  const o = options({ TEMPORAL_ADDRESS: 'temporal.internal:7233' });
  expect(o).toStrictEqual({ address: 'temporal.internal:7233' });
  expect(Object.keys(options({}))).toEqual(['address']);
  expect(options({}).address).toBe('127.0.0.1:7233');
});

it('TEMPORAL_TLS=true: TLS on with the system roots (an empty tls object), off when false', () => {
  expect(options({ TEMPORAL_TLS: 'true' })).toStrictEqual({ address: '127.0.0.1:7233', tls: {} });
  expect(options({ TEMPORAL_TLS: 'false' })).toStrictEqual({ address: '127.0.0.1:7233' });
});

it('mTLS: the certificate, key and CA are the files\' bytes, with the server name override', () => {
  const o = options({
    TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
    TEMPORAL_TLS_CERT: certPath,
    TEMPORAL_TLS_KEY: keyPath,
    TEMPORAL_TLS_CA: caPath,
    TEMPORAL_TLS_SERVER_NAME: 'temporal.example.test',
  });
  expect(o.address).toBe('ns.acct.tmprl.cloud:7233');
  expect(o.apiKey).toBeUndefined();
  expect(Object.keys(o)).toEqual(['address', 'tls']);
  const tls = o.tls!;
  expect(Object.keys(tls).sort()).toEqual(['clientCertPair', 'serverNameOverride', 'serverRootCACertificate']);
  expect(Buffer.isBuffer(tls.clientCertPair!.crt)).toBe(true);
  expect(tls.clientCertPair!.crt.equals(readFileSync(certPath))).toBe(true);
  expect(tls.clientCertPair!.key.equals(readFileSync(keyPath))).toBe(true);
  expect(tls.clientCertPair!.crt.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(tls.clientCertPair!.key.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  expect(tls.serverRootCACertificate!.equals(readFileSync(caPath))).toBe(true);
  // The CA is its own file, not the client certificate.
  expect(tls.serverRootCACertificate!.equals(tls.clientCertPair!.crt)).toBe(false);
  expect(tls.serverNameOverride).toBe('temporal.example.test');
});

it('each TLS setting alone turns TLS on and carries only itself', () => {
  expect(options({ TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: keyPath }).tls).toStrictEqual({
    clientCertPair: { crt: readFileSync(certPath), key: readFileSync(keyPath) },
  });
  expect(options({ TEMPORAL_TLS_CA: caPath }).tls).toStrictEqual({ serverRootCACertificate: readFileSync(caPath) });
  expect(options({ TEMPORAL_TLS_SERVER_NAME: 'only.name' }).tls).toStrictEqual({ serverNameOverride: 'only.name' });
});

it('an API key is passed as apiKey and implies TLS, even with TEMPORAL_TLS=false', () => {
  expect(options({ TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'secret-key' })).toStrictEqual({
    address: 'us-east-1.aws.api.temporal.io:7233',
    tls: {},
    apiKey: 'secret-key',
  });
  expect(options({ TEMPORAL_API_KEY: 'secret-key', TEMPORAL_TLS: 'false' })).toStrictEqual({ address: '127.0.0.1:7233', tls: {}, apiKey: 'secret-key' });
  // With mTLS too: both the pair and the key.
  const both = options({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: keyPath });
  expect(both.apiKey).toBe('k');
  expect(both.tls?.clientCertPair?.crt.equals(readFileSync(certPath))).toBe(true);
});

it('empty variables count as unset', () => {
  expect(options({ TEMPORAL_API_KEY: '', TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '', TEMPORAL_TLS_CA: '', TEMPORAL_TLS_SERVER_NAME: '', TEMPORAL_TLS: '' })).toStrictEqual({
    address: '127.0.0.1:7233',
  });
});

it('a certificate without its key (or the reverse) is refused by loadConfig, naming both variables', () => {
  expect(() => loadConfig({ TEMPORAL_TLS_CERT: certPath })).toThrow(/^TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/);
  expect(() => loadConfig({ TEMPORAL_TLS_KEY: keyPath })).toThrow(/^TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/);
});

it('a missing PEM file is a configuration error while the options are built (before any connection), naming the variable and the path', () => {
  const missing = path.join(dir, 'no-such-client.pem');
  for (const [variable, env] of [
    ['TEMPORAL_TLS_CERT', { TEMPORAL_TLS_CERT: missing, TEMPORAL_TLS_KEY: keyPath }],
    ['TEMPORAL_TLS_KEY', { TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: missing }],
    ['TEMPORAL_TLS_CA', { TEMPORAL_TLS_CA: missing }],
  ] as const) {
    const config = loadConfig(env); // paths are not read by loadConfig
    expect(() => temporalConnectionOptions(config)).toThrow(ConfigError);
    expect(() => temporalConnectionOptions(config)).toThrow(`${variable}: cannot read ${missing} (ENOENT)`);
  }
});
