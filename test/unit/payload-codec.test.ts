/** The payload codec and its codec server, without Temporal: keys, rotation, pass-through, HTTP. */
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import Fastify from 'fastify';
import { randomBytes } from 'node:crypto';
import { codecRoutes } from '../../src/api/codec.routes';
import { buildCodecServer } from '../../src/cli/codec-server.command';
import { ConfigError, loadConfig } from '../../src/config';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, parsePayloadKeys } from '../../src/security/payload-codec';

const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const SECRET_TEXT = 'INT. LIGHTHOUSE - NIGHT. "Keep the lamp lit," she says.';
const payload = (): Payload => defaultPayloadConverter.toPayload({ summary: SECRET_TEXT }) as Payload;
const text = (p: Payload) => Buffer.from(p.data ?? []).toString('utf8');

describe('AesGcmPayloadCodec', () => {
  it('encrypts with the write key (id in metadata, no plaintext) and decrypts back', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1}`, undefined));
    const [enc] = await codec.encode([payload()]);
    expect(Buffer.from(enc.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc.metadata?.[KEY_ID_METADATA] ?? []).toString()).toBe('k1');
    expect(text(enc)).not.toContain('lamp');
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual({ summary: SECRET_TEXT });
  });

  it('rotation: old payloads stay readable while new ones use the new write key', async () => {
    const before = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1}`, undefined));
    const after = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1},k2:${k2}`, 'k2'));
    const [old] = await before.encode([payload()]);
    const [fresh] = await after.encode([payload()]);
    expect(Buffer.from(fresh.metadata?.[KEY_ID_METADATA] ?? []).toString()).toBe('k2');
    const decoded = await after.decode([old, fresh]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ summary: SECRET_TEXT }, { summary: SECRET_TEXT }]);
    // Without k2 the new payload cannot be read, and the error names the key id only.
    await expect(before.decode([fresh])).rejects.toThrow('payload encrypted with key "k2", which is not in STORYLOOM_PAYLOAD_KEYS');
  });

  it('passes payloads without its encoding through unchanged (histories recorded before encryption)', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1}`, undefined));
    const plain = payload();
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('refuses altered data and a wrong key with the same key id', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1}`, undefined));
    const [enc] = await codec.encode([payload()]);
    const altered = { ...enc, data: Buffer.from(enc.data ?? []).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([altered])).rejects.toThrow('failed authentication');
    const impostor = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k2}`, undefined));
    await expect(impostor.decode([enc])).rejects.toThrow('failed authentication');
  });

  it('configuration errors name the variable and key id, never the key', () => {
    const short = Buffer.from('too short').toString('base64');
    const attempt = () => loadConfig({ STORYLOOM_PAYLOAD_KEYS: `k1:${k1},bad:${short}` });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow('key "bad" must be 32 bytes');
    try {
      attempt();
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
      expect((err as Error).message).not.toContain(k1);
    }
    expect(() => loadConfig({ STORYLOOM_PAYLOAD_KEYS: `k1:${k1}`, STORYLOOM_PAYLOAD_KEY_ID: 'k9' })).toThrow('STORYLOOM_PAYLOAD_KEY_ID "k9" is not among');
    expect(loadConfig({}).payloadKeys).toBeUndefined();
    expect(loadConfig({ STORYLOOM_PAYLOAD_KEYS: `a:${k1},b:${k2}`, STORYLOOM_PAYLOAD_KEY_ID: 'b' }).payloadKeys?.writeKeyId).toBe('b');
  });
});

describe('codec server routes', () => {
  const UI = 'http://127.0.0.1:8233';
  const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${k1}`, undefined));
  const server = Fastify();
  let base = '';
  beforeAll(async () => {
    await server.register(codecRoutes, { codec, token: 'codec-token', corsOrigins: [UI] });
    base = await server.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => server.close());
  // Over loopback HTTP (Fastify's inject needs an ESM-only module jest cannot load), as the Web UI calls it.
  const app = {
    async inject(req: { method: string; url: string; payload?: unknown; headers?: Record<string, string> }) {
      const res = await fetch(base + req.url, {
        method: req.method,
        headers: { ...(req.payload ? { 'content-type': 'application/json' } : {}), ...req.headers },
        body: req.payload ? JSON.stringify(req.payload) : undefined,
      });
      const body = await res.text();
      return { statusCode: res.status, headers: Object.fromEntries(res.headers), body, json: () => JSON.parse(body) as unknown };
    },
  };
  const json = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  it('answers the Web UI origin\'s preflight without a token', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: UI, 'access-control-request-method': 'POST' } });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(String(res.headers['access-control-allow-headers'])).toContain('authorization');
    const other = await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: 'http://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('decodes for a bearer of the token, refuses everyone else', async () => {
    const [enc] = await codec.encode([payload()]);
    const body = { payloads: [json(enc)] };
    const anonymous = await app.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { origin: UI, 'x-namespace': 'default' } });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).not.toContain('lamp');
    const wrong = await app.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    const res = await app.inject({ method: 'POST', url: '/codec/decode', payload: body, headers: { origin: UI, authorization: 'Bearer codec-token' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    const [out] = (res.json() as { payloads: { data: string }[] }).payloads;
    expect(JSON.parse(Buffer.from(out.data, 'base64').toString())).toEqual({ summary: SECRET_TEXT });
  });

  it('encodes, and a payload under an unknown key is a 400 naming the key id', async () => {
    const res = await app.inject({ method: 'POST', url: '/codec/encode', payload: { payloads: [json(payload())] }, headers: { authorization: 'Bearer codec-token' } });
    expect(res.statusCode).toBe(200);
    const [enc] = (res.json() as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
    expect(Buffer.from(enc.metadata[KEY_ID_METADATA], 'base64').toString()).toBe('k1');
    const foreign = { ...enc, metadata: { ...enc.metadata, [KEY_ID_METADATA]: Buffer.from('k7').toString('base64') } };
    const bad = await app.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: [foreign] }, headers: { authorization: 'Bearer codec-token' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: { code: 'codec_error', message: 'payload encrypted with key "k7", which is not in STORYLOOM_PAYLOAD_KEYS' } });
    const malformed = await app.inject({ method: 'POST', url: '/codec/decode', payload: { nope: 1 }, headers: { authorization: 'Bearer codec-token' } });
    expect(malformed.statusCode).toBe(400);
  });
});

describe('storyloom codec-server (the routes on their own): refusals in the API\'s error shape', () => {
  let server: Awaited<ReturnType<typeof buildCodecServer>>;
  let base = '';
  beforeAll(async () => {
    server = await buildCodecServer(loadConfig({ STORYLOOM_PAYLOAD_KEYS: `k1:${k1}`, STORYLOOM_CODEC_TOKEN: 'codec-token' }));
    base = await server.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => server.close());
  const post = async (body: string, contentType: string) => {
    const res = await fetch(`${base}/codec/decode`, { method: 'POST', headers: { 'content-type': contentType, authorization: 'Bearer codec-token' }, body });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  it.each([
    ['a body without payloads', '{"nope":1}', 'application/json', 400, 'invalid_request'],
    ['malformed JSON', '{', 'application/json', 400, 'bad_request'],
    ['a text/plain body', '{"payloads":[]}', 'text/plain', 415, 'unsupported_media_type'],
  ])('%s (%s, sent as %s): the error shape and its status', async (_what, body, contentType, status, code) => {
    const answer = await post(body, contentType);
    expect(answer).toEqual({ status, body: { error: { code, message: expect.any(String) } } });
  });
});
