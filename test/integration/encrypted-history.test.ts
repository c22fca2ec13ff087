/**
 * Confidentiality (issue 14): with payload keys set, nothing script-derived is readable in a
 * run's history — as `temporal workflow show --output json` exports it — while the same
 * history decodes with the key (here, and through the codec server the Web UI calls). Real dev
 * server, Postgres and simulator; the harness encrypts with the tests' key.
 */
import type { Payload } from '@temporalio/common';
import Fastify from 'fastify';
import { codecRoutes } from '../../src/api/codec.routes';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, parsePayloadKeys } from '../../src/security/payload-codec';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript } from '../../src/workflows';
import { TEST_PAYLOAD_KEYS, useTestStack } from '../helpers/harness';
import { importFixture, importSynthetic } from '../helpers/scripts';
import { exportHistory } from '../replay/recorder';

const stack = useTestStack('encrypted-history');
const DIALOGUE = 'Every night at eleven, the ferry leaves with one passenger more than it brings back.';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Every payload object in an exported history (metadata + base64 data). */
function payloadsOf(node: unknown, out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(node)) for (const x of node) payloadsOf(x, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push(o as JsonPayload);
    else for (const v of Object.values(o)) payloadsOf(v, out);
  }
  return out;
}
const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const readable = (ps: Payload[]) => ps.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');

it('a recorded ingestion history has no script-derived plaintext, and decodes with the key', async () => {
  const script = await importFixture(stack.app.services.db, 'fountain/night-ferry.fountain', `Encrypted ferry ${Date.now()}`);
  const workflowId = ingestionWorkflowId(script.scriptId);
  const handle = await stack.env.client.workflow.start(ingestScript, { taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full' }] });
  expect((await handle.result()).status).toBe('completed');
  const summaries: string[] = (
    await stack.app.services.db.query('SELECT ss.summary FROM scene_summaries ss JOIN scenes s ON s.id = ss.scene_id WHERE s.script_id = $1', [script.scriptId])
  ).map((r: { summary: string }) => r.summary);
  const sheets: string[] = (
    await stack.app.services.db.query('SELECT cs.sheet::text AS sheet FROM character_sheets cs JOIN characters c ON c.id = cs.character_id WHERE c.script_id = $1', [script.scriptId])
  ).map((r: { sheet: string }) => r.sheet);
  expect(summaries.length).toBeGreaterThan(3);
  expect(sheets.length).toBeGreaterThan(0);
  // The simulator's summaries quote the script: the dialogue line is among them, so it is script-derived text to look for.
  const secrets = [DIALOGUE.slice(0, 40), ...summaries.map((s) => s.slice(0, 40)), ...sheets.map((s) => s.slice(0, 40))];

  const json = exportHistory(stack.env.address, workflowId);
  const payloads = payloadsOf(JSON.parse(json)).map(toPayload);
  expect(payloads.length).toBeGreaterThan(10);
  const encodings = new Set(payloads.map((p) => Buffer.from(p.metadata?.encoding ?? []).toString()));
  expect(encodings).toContain(ENCRYPTED_ENCODING);
  // What stays plain is the SDK's own bookkeeping (local-activity and patch markers), written by Core past the codec.
  const plain = payloads.filter((p) => Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING);
  for (const p of plain) {
    const value = JSON.parse(Buffer.from(p.data ?? []).toString()) as unknown;
    const marker = Array.isArray(value) || (typeof value === 'object' && value !== null && ('activity_type' in value || 'deprecated' in value));
    expect(marker).toBe(true);
  }
  // Without the key: neither the export nor any payload's bytes hold script-derived text.
  const withoutKey = `${json}\n${readable(payloads)}`;
  for (const s of secrets) expect(withoutKey).not.toContain(s);

  // With the key: the summaries and sheets are there.
  const codec = new AesGcmPayloadCodec(parsePayloadKeys(TEST_PAYLOAD_KEYS, undefined));
  const decoded = readable(await codec.decode(payloads));
  for (const s of summaries) expect(decoded).toContain(JSON.stringify(s).slice(1, 41));
  expect(decoded).toContain('sheet');

  // Through the codec server, as the Web UI asks for it.
  const server = Fastify();
  await server.register(codecRoutes, { codec, token: 't0ken', corsOrigins: ['http://127.0.0.1:8233'] });
  const base = await server.listen({ port: 0, host: '127.0.0.1' });
  try {
    const res = await fetch(`${base}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken', 'x-namespace': 'default' },
      body: JSON.stringify({ payloads: payloadsOf(JSON.parse(json)) }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { payloads: JsonPayload[] };
    expect(readable(body.payloads.map(toPayload))).toContain(JSON.stringify(summaries[0]).slice(1, 41));
  } finally {
    await server.close();
  }
});

/** Every failure object in an exported history (its message, stack trace and encoded attributes), causes included. */
function failuresOf(node: unknown, out: { message?: string; stackTrace?: string; encodedAttributes?: JsonPayload }[] = []) {
  if (Array.isArray(node)) for (const x of node) failuresOf(x, out);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if ((key === 'failure' || key === 'cause') && value && typeof value === 'object') out.push(value as (typeof out)[number]);
      failuresOf(value, out);
    }
  }
  return out;
}

it("a failed scene's error is encrypted in history too: no message or stack trace in plaintext, readable with the key", async () => {
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'summary', contains: 'in scene 2 ' }] });
  try {
    const script = await importSynthetic(stack.app.services.db, 4, 2, `Encrypted failure ${Date.now()}`);
    const workflowId = ingestionWorkflowId(script.scriptId);
    const result = await stack.env.client.workflow.execute(ingestScript, { taskQueue: stack.app.taskQueue, workflowId, args: [{ scriptId: script.scriptId, mode: 'full' }] });
    // The client (with the key) reads the failure as it was.
    expect(result.failureCount).toBe(1);
    expect(result.failures[0].message).toMatch(/refused the request as invalid \(400\)/);

    const failures = failuresOf(JSON.parse(exportHistory(stack.env.address, workflowId)));
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.message).toBe('Encoded failure');
      expect(f.stackTrace ?? '').toBe('');
      expect(Buffer.from(f.encodedAttributes?.metadata?.encoding ?? '', 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    }
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(TEST_PAYLOAD_KEYS, undefined));
    const decoded = readable(await codec.decode(failures.map((f) => toPayload(f.encodedAttributes!))));
    expect(decoded).toMatch(/refused the request as invalid \(400\)/);
  } finally {
    stack.sim.configure({ faults: [] });
  }
});
