/**
 * docker-compose.yml cannot run here (no Docker engine), so what it promises is read from the
 * file: the recommended server settings on its Temporal server, every storyloom setting a host
 * CLI must share passed to every storyloom service, and a start order that waits for the
 * migrations and the search attributes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CHAT_PURPOSES, EMBEDDING_PURPOSES, PROVIDERS } from '../../src/shared/llm-routing';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/shared/temporal-server-settings';

const root = path.join(__dirname, '../..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; volumes?: string[]; depends_on?: Record<string, { condition: string }> | string[] }>;
};
const STORYLOOM_SERVICES = ['migrate', 'worker', 'api'];

it('mounts the recommended dynamic config on the temporal service, with the values every dev server gets', () => {
  const temporal = compose.services.temporal;
  const mount = temporal.volumes?.find((v) => v.includes('dynamicconfig'));
  expect(mount).toBeDefined();
  const [hostPath, containerPath] = mount!.split(':');
  expect(containerPath).toBe(`/etc/temporal/${temporal.environment?.DYNAMIC_CONFIG_FILE_PATH}`);
  const file = parse(readFileSync(path.join(root, hostPath), 'utf8')) as Record<string, { value: number }[]>;
  expect(Object.fromEntries(Object.entries(file).map(([k, v]) => [k, v[0].value]))).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
});

it('passes the payload keys, the models and the provider limits to every storyloom service', () => {
  const shared = [
    'STORYLOOM_PAYLOAD_KEYS',
    'STORYLOOM_PAYLOAD_KEY_ID',
    ...[...CHAT_PURPOSES, ...EMBEDDING_PURPOSES].map((p) => `STORYLOOM_MODEL_${p.toUpperCase()}`),
    ...PROVIDERS.flatMap((p) => [`STORYLOOM_${p.toUpperCase()}_MAX_CONCURRENT`, `STORYLOOM_${p.toUpperCase()}_MAX_PER_SECOND`]),
  ];
  for (const service of STORYLOOM_SERVICES) {
    const env = compose.services[service].environment ?? {};
    for (const name of shared) expect([service, name, env[name]]).toEqual([service, name, `\${${name}:-}`]);
  }
});

it('gives the API, which listens beyond loopback, the codec token it needs once payload keys are set', () => {
  const env = compose.services.api.environment ?? {};
  expect(env.STORYLOOM_API_HOST).toBe('0.0.0.0');
  expect(env.STORYLOOM_CODEC_TOKEN).toBe('${STORYLOOM_CODEC_TOKEN:-}');
});

it('starts the worker and the API only after the migrations and the search attributes', () => {
  for (const service of ['worker', 'api']) {
    expect(compose.services[service].depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
  }
});
