/**
 * The batch endpoints, in each provider's wire format as the official SDKs read it:
 * - Anthropic Message Batches: POST /v1/messages/batches, GET /v1/messages/batches[/:id],
 *   POST /v1/messages/batches/:id/cancel, GET /v1/messages/batches/:id/results (JSONL).
 * - OpenAI Files + Batch: POST /v1/files (multipart), GET /v1/files/:id[/content],
 *   POST /v1/batches, GET /v1/batches[/:id], POST /v1/batches/:id/cancel.
 * Each item is answered by the synchronous route's handler (same deterministic answers, schema
 * answers included). Requests are authenticated, counted in stats and subject to the route's
 * faults (`anthropic.batches`, `openai.batches`, `openai.files`) and its fixed latency (by route
 * or default, never by purpose).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BatchStore, ItemResult, SimBatch } from '../batch-store';
import { readBody, sendJson } from '../http-io';
import { sleep } from '../latency';
import type { PipelineState } from '../pipeline';
import { PURPOSE_HEADER } from '../pipeline';
import { apiKeyFrom, errorBody, requestIdHeader, type ErrorKind } from '../providers';
import { BadRequest } from '../reply';
import type { RouteName } from '../types';
import { anthropicMessages } from './anthropic';
import { openaiChat } from './openai';
import { asBody, requireArray, requireString, type Body } from './request';

export interface BatchState extends PipelineState {
  batches: BatchStore;
}

const MAX_BATCH_BYTES = 64 * 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  contentType: string;
  data: string;
}

const json = (body: unknown, status = 200): Answer => ({ status, contentType: 'application/json', data: JSON.stringify(body) });

interface Matched {
  route: RouteName;
  run: (state: BatchState, req: IncomingMessage, host: string) => Promise<Answer>;
}

/** Which batch operation a request is, or undefined when the path is not a batch endpoint. */
function match(method: string, path: string): Matched | undefined {
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'v1') return undefined;
  const [, a, b, c, d] = parts;
  if (a === 'messages' && b === 'batches') {
    const route = 'anthropic.batches';
    if (!c && method === 'POST') return { route, run: anthropicCreate };
    if (!c && method === 'GET') return { route, run: async (s, r) => json(anthropicList(s, r)) };
    if (c && !d && method === 'GET') return { route, run: async (s, _r, host) => json(anthropicView(s, anthropicBatch(s, c), host)) };
    if (c && d === 'cancel' && method === 'POST') return { route, run: async (s, _r, host) => json(anthropicCancel(s, c, host)) };
    if (c && d === 'results' && method === 'GET') return { route, run: async (s) => anthropicResults(s, c) };
    return undefined;
  }
  if (a === 'files') {
    const route = 'openai.files';
    if (!b && method === 'POST') return { route, run: openaiUpload };
    if (b && !c && method === 'GET') return { route, run: async (s) => json(fileView(openaiFile(s, b))) };
    if (b && c === 'content' && method === 'GET') {
      return { route, run: async (s) => ({ status: 200, contentType: 'application/octet-stream', data: openaiFile(s, b).bytes.toString('utf8') }) };
    }
    return undefined;
  }
  if (a === 'batches') {
    const route = 'openai.batches';
    if (!b && method === 'POST') return { route, run: openaiCreate };
    if (!b && method === 'GET') return { route, run: async (s, r) => json(openaiList(s, r)) };
    if (b && !c && method === 'GET') return { route, run: async (s) => json(openaiView(s, openaiBatch(s, b))) };
    if (b && c === 'cancel' && method === 'POST') return { route, run: async (s) => json(openaiCancel(s, b)) };
    return undefined;
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function bodyJson(req: IncomingMessage): Promise<Body> {
  const raw = await readBody(req, MAX_BATCH_BYTES);
  try {
    return asBody(JSON.parse(raw));
  } catch (err) {
    if (err instanceof BadRequest) throw err;
    throw new BadRequest('The request body is not valid JSON.');
  }
}

/**
 * Serves a batch endpoint; false when `path` is not one (the caller answers 404). Faults:
 * the HTTP ones answer with their error, `hang` never answers, `malformed` performs the
 * operation and cuts the response (a batch created whose id the client never read).
 */
export async function serveBatchRequest(state: BatchState, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const matched = match(req.method ?? 'GET', path);
  if (!matched) return false;
  const cfg = state.config;
  const provider = matched.route.startsWith('anthropic') ? 'anthropic' : 'openai';
  const purpose = header(req, PURPOSE_HEADER)?.trim() || 'unknown';
  const requestId = `req_sim_${state.nextRequestId()}`;
  const idHeaders = { [requestIdHeader(provider)]: requestId };
  const rec = state.stats.begin(matched.route, purpose);
  const fail = (status: number, kind: ErrorKind, statsKey: string, message: string) => {
    req.resume();
    rec.error(statsKey, status);
    sendJson(res, status, errorBody(provider, kind, message, requestId), idHeaders);
  };

  const expectedKey = cfg.apiKeys[provider];
  if (expectedKey !== undefined && apiKeyFrom(provider, req.headers) !== expectedKey) {
    fail(401, 'authentication', '401', 'invalid x-api-key');
    return true;
  }
  rec.enter();
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) {
      gone.abort();
      rec.aborted();
    }
  });
  // Batch requests never stream, so a streamError or streamStall rule never fires here.
  const fault = state.faults.pick(cfg.faults, matched.route, purpose, '', false);
  if (fault?.kind === 'hang') {
    req.resume();
    rec.error('hang', 0);
    return true;
  }
  if (fault && fault.kind !== 'malformed' && fault.kind !== 'wrongShape' && fault.kind !== 'streamError' && fault.kind !== 'streamStall') {
    const spec = {
      http500: [500, 'server'],
      http529: [529, 'overloaded'],
      http429: [429, 'rate_limit'],
      http400: [400, 'invalid_request'],
      http401: [401, 'authentication'],
      http429NoRetryAfter: [429, 'rate_limit'],
      http404: [404, 'not_found'],
      http429Quota: [429, 'insufficient_quota'],
    } as const;
    const [status, kind] = spec[fault.kind];
    fail(status, kind, fault.kind, `Simulated ${fault.kind}.`);
    return true;
  }

  let answer: Answer;
  try {
    answer = await matched.run(state, req, header(req, 'host') ?? '127.0.0.1');
  } catch (err) {
    if (err instanceof HttpError) fail(err.status, err.kind, String(err.status), err.message);
    else if (err instanceof BadRequest) fail(400, 'invalid_request', '400', err.message);
    else fail(500, 'server', '500', `Simulator bug: ${err instanceof Error ? err.message : String(err)}`);
    return true;
  }
  // The batch's own processing time is batches.processingMs; a batch request takes only its
  // route's latency (not its purpose's, which models one completion).
  const wait = (cfg.latency.byRoute?.[matched.route] ?? cfg.latency.default).fixedMs * cfg.timeScale;
  if (!(await sleep(wait, gone.signal))) return true;
  let data = answer.data;
  if (fault?.kind === 'malformed') {
    rec.error('malformed', 200);
    data = data.slice(0, Math.max(1, Math.floor(data.length / 2)));
  } else {
    res.on('finish', () => rec.ok({ inputTokens: 0, outputTokens: 0, embeddingInputs: 0 }));
  }
  res.writeHead(answer.status, { ...idHeaders, 'content-type': answer.contentType, 'content-length': Buffer.byteLength(data) });
  res.end(data);
  return true;
}

// ---- Anthropic ----

function anthropicBatch(state: BatchState, id: string): SimBatch {
  const batch = state.batches.get(id, 'anthropic');
  if (!batch) throw new HttpError(404, 'not_found', `No message batch with id ${id}.`);
  return batch;
}

async function anthropicCreate(state: BatchState, req: IncomingMessage, host: string): Promise<Answer> {
  const body = await bodyJson(req);
  const requests = requireArray(body, 'requests');
  const seen = new Set<string>();
  const items = requests.map((r, i) => {
    const item = asBody(r);
    const customId = item.custom_id;
    if (typeof customId !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(customId)) {
      throw new BadRequest(`requests.${i}.custom_id: must be 1-64 characters of letters, digits, '_' or '-'`);
    }
    if (seen.has(customId)) throw new BadRequest(`requests.${i}.custom_id: duplicate custom_id "${customId}"`);
    seen.add(customId);
    if (!item.params || typeof item.params !== 'object') throw new BadRequest(`requests.${i}.params: field required`);
    return { customId, body: item.params };
  });
  const batch = state.batches.create(state.config, 'anthropic', state.batches.nextId('msgbatch_sim'), anthropicMessages, items);
  return json(anthropicView(state, batch, host));
}

function anthropicView(state: BatchState, batch: SimBatch, host: string): Body {
  const processing = state.batches.state(batch);
  const ended = processing === 'ended';
  const counts = { processing: ended ? 0 : batch.items.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
  if (ended) {
    for (const { result } of state.batches.results(batch)) counts[result.kind]++;
  }
  const endedAt = state.batches.endedAt(batch);
  return {
    id: batch.id,
    type: 'message_batch',
    processing_status: processing,
    request_counts: counts,
    ended_at: endedAt ? endedAt.toISOString() : null,
    created_at: batch.createdAt.toISOString(),
    expires_at: new Date(batch.createdAt.getTime() + DAY_MS).toISOString(),
    archived_at: null,
    cancel_initiated_at: batch.cancelledAt ? batch.cancelledAt.toISOString() : null,
    results_url: ended ? `http://${host}/v1/messages/batches/${batch.id}/results` : null,
  };
}

/**
 * One page of a newest-first list, paged as the providers page it: `limit` items (default 20, at
 * most `max`) after the one whose id the cursor parameter names.
 */
function listPage<T extends Body>(all: T[], req: IncomingMessage, cursor: 'after_id' | 'after', max: number): { data: T[]; has_more: boolean } {
  const query = new URL(req.url ?? '/', 'http://simulator').searchParams;
  const limit = Math.min(Math.max(Math.trunc(Number(query.get('limit'))) || 20, 1), max);
  const after = query.get(cursor);
  const start = after ? all.findIndex((item) => item.id === after) + 1 : 0;
  return { data: all.slice(start, start + limit), has_more: start + limit < all.length };
}

function anthropicList(state: BatchState, req: IncomingMessage): Body {
  const { data, has_more } = listPage(state.batches.list('anthropic').map((b) => anthropicView(state, b, '127.0.0.1')), req, 'after_id', 1000);
  return { data, has_more, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
}

function anthropicCancel(state: BatchState, id: string, host: string): Body {
  return state.batches.cancel(anthropicBatch(state, id), (b) => anthropicView(state, b, host));
}

const ANTHROPIC_ERROR_TYPES: Record<ErrorKind, string> = {
  server: 'api_error',
  overloaded: 'overloaded_error',
  rate_limit: 'rate_limit_error',
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  not_found: 'not_found_error',
  insufficient_quota: 'billing_error',
};

function anthropicResultLine(customId: string, result: ItemResult): string {
  const out =
    result.kind === 'succeeded'
      ? { type: 'succeeded', message: result.body }
      : result.kind === 'errored'
        ? { type: 'errored', error: { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[result.errorKind], message: result.message }, request_id: null } }
        : { type: result.kind };
  return JSON.stringify({ custom_id: customId, result: out });
}

async function anthropicResults(state: BatchState, id: string): Promise<Answer> {
  const batch = anthropicBatch(state, id);
  if (state.batches.state(batch) !== 'ended') {
    throw new HttpError(400, 'invalid_request', `Message batch ${id} is still processing; results are available once it has ended.`);
  }
  const lines = state.batches.results(batch).map((r) => anthropicResultLine(r.customId, r.result));
  return { status: 200, contentType: 'application/binary', data: lines.map((l) => `${l}\n`).join('') };
}

// ---- OpenAI ----

function openaiFile(state: BatchState, id: string): ReturnType<BatchStore['file']> & object {
  const file = state.batches.file(id);
  if (!file) throw new HttpError(404, 'not_found', `No such File object: ${id}`);
  return file;
}

function fileView(file: NonNullable<ReturnType<BatchStore['file']>>): Body {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes.length,
    created_at: Math.floor(file.createdAt.getTime() / 1000),
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    status_details: null,
  };
}

/** Reads the multipart body as the SDK sends it (Node's own FormData parser). */
async function openaiUpload(state: BatchState, req: IncomingMessage): Promise<Answer> {
  const type = header(req, 'content-type') ?? '';
  if (!type.startsWith('multipart/form-data')) throw new BadRequest('files: the body must be multipart/form-data');
  const raw = await readRaw(req);
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'content-type': type } }).formData();
  } catch {
    throw new BadRequest('files: the multipart body could not be parsed');
  }
  const file = form.get('file');
  const purpose = form.get('purpose');
  if (!file || typeof file === 'string') throw new BadRequest("file: field required (a file)");
  if (typeof purpose !== 'string' || !purpose) throw new BadRequest("purpose: field required");
  const stored = state.batches.addFile({ bytes: Buffer.from(await file.arrayBuffer()), filename: file.name || 'upload', purpose });
  return json(fileView(stored));
}

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BATCH_BYTES) reject(new HttpError(413, 'invalid_request', `file over ${MAX_BATCH_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function openaiBatch(state: BatchState, id: string): SimBatch {
  const batch = state.batches.get(id, 'openai');
  if (!batch) throw new HttpError(404, 'not_found', `No batch found with id '${id}'.`);
  return batch;
}

/** Parses the input file; a bad line fails the batch at validation (as the API does), it is not a 400. */
function parseInputFile(text: string, endpoint: string) {
  const items: { customId: string; body: unknown }[] = [];
  const errors: NonNullable<SimBatch['openai']>['validationErrors'] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const fail = (message: string, param: string | null = null) => errors.push({ code: 'invalid_request', line: i + 1, message, param });
    let value: Body;
    try {
      value = asBody(JSON.parse(line));
    } catch {
      return fail('This line is not valid JSON.');
    }
    if (typeof value.custom_id !== 'string' || !value.custom_id) return fail('custom_id: field required', 'custom_id');
    if (seen.has(value.custom_id)) return fail(`duplicate custom_id "${value.custom_id}"`, 'custom_id');
    if (value.method !== 'POST') return fail("method: must be 'POST'", 'method');
    if (value.url !== endpoint) return fail(`url: must be the batch's endpoint ${endpoint}`, 'url');
    if (!value.body || typeof value.body !== 'object') return fail('body: field required', 'body');
    seen.add(value.custom_id);
    items.push({ customId: value.custom_id, body: value.body });
  });
  if (!items.length && !errors.length) errors.push({ code: 'empty_file', line: null, message: 'The input file has no requests.', param: null });
  return { items, errors };
}

async function openaiCreate(state: BatchState, req: IncomingMessage): Promise<Answer> {
  const body = await bodyJson(req);
  const inputFileId = requireString(body, 'input_file_id');
  const endpoint = requireString(body, 'endpoint');
  const completionWindow = requireString(body, 'completion_window');
  if (endpoint !== '/v1/chat/completions') throw new BadRequest(`endpoint: the simulator batches only /v1/chat/completions (got ${endpoint})`);
  if (completionWindow !== '24h') throw new BadRequest("completion_window: must be '24h'");
  const metadata = body.metadata && typeof body.metadata === 'object' ? (body.metadata as Record<string, string>) : null;
  const file = openaiFile(state, inputFileId);
  const { items, errors } = parseInputFile(file.bytes.toString('utf8'), endpoint);
  const openai = { inputFileId, endpoint, completionWindow, metadata, ...(errors.length ? { validationErrors: errors } : {}) };
  const batch = state.batches.create(state.config, 'openai', state.batches.nextId('batch_sim'), openaiChat, errors.length ? [] : items, openai);
  return json(openaiView(state, batch));
}

const seconds = (d: Date | null | undefined) => (d ? Math.floor(d.getTime() / 1000) : null);

function openaiStatus(state: BatchState, batch: SimBatch): string {
  if (batch.openai?.validationErrors) return 'failed';
  const s = state.batches.state(batch);
  if (s === 'in_progress') return 'in_progress';
  if (s === 'canceling') return 'cancelling';
  if (batch.cancelledAt) return 'cancelled';
  return 'completed';
}

/** The output and error files, written once when the batch has ended. */
function finalFiles(state: BatchState, batch: SimBatch): void {
  const meta = batch.openai;
  if (!meta || meta.validationErrors || state.batches.state(batch) !== 'ended' || meta.outputFileId !== undefined) return;
  const ok: string[] = [];
  const failed: string[] = [];
  for (const { customId, result } of state.batches.results(batch)) {
    const id = `batch_req_${state.batches.nextId('sim')}`;
    const requestId = `req_sim_${state.nextRequestId()}`;
    if (result.kind === 'succeeded') {
      ok.push(JSON.stringify({ id, custom_id: customId, response: { status_code: 200, request_id: requestId, body: result.body }, error: null }));
    } else if (result.kind === 'errored') {
      const body = errorBody('openai', result.errorKind, result.message, requestId);
      failed.push(JSON.stringify({ id, custom_id: customId, response: { status_code: result.status, request_id: requestId, body }, error: null }));
    } else {
      const code = result.kind === 'expired' ? 'batch_expired' : 'batch_cancelled';
      const message = result.kind === 'expired' ? 'This request could not be executed before the completion window expired.' : 'This request was not executed because the batch was cancelled.';
      failed.push(JSON.stringify({ id, custom_id: customId, response: null, error: { code, message } }));
    }
  }
  const write = (lines: string[], name: string) =>
    lines.length ? state.batches.addFile({ bytes: Buffer.from(lines.map((l) => `${l}\n`).join('')), filename: name, purpose: 'batch_output' }).id : undefined;
  meta.outputFileId = write(ok, `${batch.id}_output.jsonl`) ?? '';
  meta.errorFileId = write(failed, `${batch.id}_error.jsonl`);
}

function openaiView(state: BatchState, batch: SimBatch): Body {
  finalFiles(state, batch);
  const meta = batch.openai!;
  const status = openaiStatus(state, batch);
  const ended = status === 'completed' || status === 'cancelled' || status === 'failed';
  let completed = 0;
  let failedCount = 0;
  if (ended) {
    for (const { result } of state.batches.results(batch)) {
      if (result.kind === 'succeeded') completed++;
      else failedCount++;
    }
  }
  const endedAt = state.batches.endedAt(batch);
  return {
    id: batch.id,
    object: 'batch',
    endpoint: meta.endpoint,
    errors: meta.validationErrors ? { object: 'list', data: meta.validationErrors } : null,
    input_file_id: meta.inputFileId,
    completion_window: meta.completionWindow,
    status,
    output_file_id: meta.outputFileId || null,
    error_file_id: meta.errorFileId ?? null,
    created_at: seconds(batch.createdAt),
    in_progress_at: meta.validationErrors ? null : seconds(batch.createdAt),
    expires_at: seconds(new Date(batch.createdAt.getTime() + DAY_MS)),
    finalizing_at: status === 'completed' ? seconds(endedAt) : null,
    completed_at: status === 'completed' ? seconds(endedAt) : null,
    failed_at: status === 'failed' ? seconds(batch.createdAt) : null,
    expired_at: null,
    cancelling_at: seconds(batch.cancelledAt),
    cancelled_at: status === 'cancelled' ? seconds(endedAt) : null,
    request_counts: { total: batch.items.length, completed, failed: failedCount },
    metadata: meta.metadata,
  };
}

function openaiList(state: BatchState, req: IncomingMessage): Body {
  const { data, has_more } = listPage(state.batches.list('openai').map((b) => openaiView(state, b)), req, 'after', 100);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more };
}

function openaiCancel(state: BatchState, id: string): Body {
  return state.batches.cancel(openaiBatch(state, id), (b) => openaiView(state, b));
}
