/**
 * LLM provider simulator, exercised through the real SDKs (Anthropic, OpenAI, Ollama) against an in-process
 * server on a random port, plus unit tests of the schema sampler and the embeddings.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startSimulator } from '../../src/llm/simulator';
import { useSimulatorClients } from '../helpers/simulator-clients';
import { parseArgs } from '../../src/llm/simulator/cli';
import { cosine, embed } from '../../src/llm/simulator/embeddings';
import { sampleFromSchema } from '../../src/llm/simulator/schema-sample';
import { composeText } from '../../src/llm/simulator/text';
import { waitFor } from '../helpers/wait';
import { strictOutputSchema } from '../../src/llm/structured-output';

const PROMPT =
  '<chapter>The lighthouse keeper counted ships every night. ' +
  'One winter a ship arrived without a crew.\n' +
  'She rowed out alone and found a **letter** nailed to the mast.</chapter>';

const user = (content: string) => [{ role: 'user' as const, content }];

const sdk = useSimulatorClients();

beforeEach(() => {
  // null puts a key back to its default.
  sdk.sim.configure({ faults: [], limits: null, apiKeys: null, latency: null, timeScale: 1, retryAfterMs: 1000 });
  sdk.sim.resetStats();
});

/** fetch's json() is typed unknown; these tests look at concrete fields. */
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

async function caught(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const STORY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['title', 'chapters', 'mood', 'rating', 'published'],
  properties: {
    title: { type: 'string', minLength: 3, maxLength: 40 },
    chapters: {
      type: 'array',
      minItems: 2,
      items: {
        type: 'object',
        required: ['name', 'index'],
        properties: { name: { type: 'string' }, index: { type: 'integer', minimum: 1, maximum: 3 } },
      },
    },
    mood: { enum: ['dark', 'light'] },
    rating: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    published: { type: 'boolean' },
    editor: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/person' }] },
  },
  $defs: { person: { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } } },
};

describe('schema-sample', () => {
  it('satisfies required fields, bounds, enums, anyOf and $ref', () => {
    const v = sampleFromSchema(STORY_SCHEMA, { words: ['lighthouse', 'keeper', 'winter', 'ship'] }) as any;
    expect(Object.keys(v).sort()).toEqual(['chapters', 'editor', 'mood', 'published', 'rating', 'title']);
    expect(typeof v.title).toBe('string');
    expect(v.title.length).toBeGreaterThanOrEqual(3);
    expect(v.title.length).toBeLessThanOrEqual(40);
    expect(v.title.split(' ').every((w: string) => ['lighthouse', 'keeper', 'winter', 'ship'].includes(w))).toBe(true);
    expect(v.chapters.length).toBeGreaterThanOrEqual(2);
    expect(v.chapters.length).toBeLessThanOrEqual(3);
    for (const c of v.chapters) {
      expect(typeof c.name).toBe('string');
      expect(Number.isInteger(c.index)).toBe(true);
      expect(c.index).toBeGreaterThanOrEqual(1);
      expect(c.index).toBeLessThanOrEqual(3);
    }
    expect(v.mood).toBe('dark');
    expect(v.rating).toBeGreaterThanOrEqual(0);
    expect(v.rating).toBeLessThan(1);
    expect(typeof v.published).toBe('boolean');
    expect(v.editor.email).toMatch(/^[a-z0-9]+@example\.com$/);
  });

  it('respects string lengths, multipleOf, const, tuples and type lists', () => {
    const v = sampleFromSchema({
      type: 'object',
      properties: {
        long: { type: 'string', minLength: 60 },
        short: { type: 'string', maxLength: 4 },
        even: { type: 'integer', minimum: 11, maximum: 13, multipleOf: 2 },
        fixed: { const: 'v1' },
        pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'boolean' }], maxItems: 2 },
        maybe: { type: ['null', 'string'] },
        tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, uniqueItems: true, minItems: 3 },
      },
    }) as any;
    expect(v.long.length).toBeGreaterThanOrEqual(60);
    expect(v.short.length).toBeLessThanOrEqual(4);
    expect(v.short.length).toBeGreaterThan(0);
    expect(v.even).toBe(12);
    expect(v.fixed).toBe('v1');
    expect(v.pair).toHaveLength(2);
    expect(typeof v.pair[0]).toBe('number');
    expect(typeof v.pair[1]).toBe('boolean');
    expect(typeof v.maybe).toBe('string');
    expect(v.tags).toEqual(['a', 'b', 'c']);
  });

  it('is deterministic and terminates on recursive schemas', () => {
    const tree = { $ref: '#/$defs/node', $defs: { node: { type: 'object', required: ['kids'], properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } } };
    const a = JSON.stringify(sampleFromSchema(tree));
    expect(JSON.stringify(sampleFromSchema(tree))).toBe(a);
    expect(a.length).toBeGreaterThan(10);
    expect(JSON.stringify(sampleFromSchema(STORY_SCHEMA))).toBe(JSON.stringify(sampleFromSchema(STORY_SCHEMA)));
  });
});

describe('text and embeddings', () => {
  it('extracts from the prompt, strips markup, and reports cuts', () => {
    expect(composeText(PROMPT).text).toBe(
      'The lighthouse keeper counted ships every night. One winter a ship arrived without a crew. ' +
        'She rowed out alone and found a letter nailed to the mast.',
    );
    expect(composeText(PROMPT).truncated).toBe(false);
    const cut = composeText(PROMPT, 5);
    expect(cut.truncated).toBe(true);
    expect(cut.text.length).toBeLessThanOrEqual(20);
    expect(composeText('<x></x>').text).toMatch(/simulated answer about x/);
  });

  it('gives unit vectors that are closer for texts sharing words', () => {
    const a = embed('the dragon sleeps under the hill', 256);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    const near = embed('a dragon sleeps under a mountain', 256);
    const far = embed('quarterly revenue grew in europe', 256);
    // 3 shared words; each text also has one doubled word and one of its own: 3 / (sqrt(8) * sqrt(8))
    expect(cosine(a, near)).toBeCloseTo(0.375, 5);
    expect(Math.abs(cosine(a, far))).toBeLessThan(0.2);
  });
});

describe('anthropic', () => {
  it('create returns an extractive message with usage', async () => {
    const msg = await sdk.anthropic.messages.create({ model: 'claude-sim', max_tokens: 512, messages: user(PROMPT) });
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.model).toBe('claude-sim');
    expect(msg.stop_reason).toBe('end_turn');
    const text = msg.content[0].type === 'text' ? msg.content[0].text : '';
    expect(text).toBe(composeText(PROMPT).text);
    expect(msg.usage.output_tokens).toBe(Math.ceil(text.length / 4));
    expect(msg.usage.input_tokens).toBe(Math.ceil((PROMPT.length + 1) / 4)); // empty system + '\n' + prompt
  });

  it('stops with max_tokens when the limit cuts the answer', async () => {
    const msg = await sdk.anthropic.messages.create({ model: 'claude-sim', max_tokens: 6, messages: user(PROMPT) });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBeLessThanOrEqual(6);
  });

  it('streams text deltas that add up to the non-streamed answer', async () => {
    const params = { model: 'claude-sim', max_tokens: 512, messages: user(PROMPT) };
    const plain = await sdk.anthropic.messages.create(params);
    const stream = sdk.anthropic.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(composeText(PROMPT).text);
    expect(final.content).toEqual(plain.content);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(plain.usage.output_tokens);
    expect(final.usage.input_tokens).toBe(plain.usage.input_tokens);

    const raw = await sdk.anthropic.messages.create({ ...params, stream: true });
    const types: string[] = [];
    for await (const ev of raw) types.push(ev.type);
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('answers output_config json_schema with JSON that fits the schema', async () => {
    const msg = await sdk.anthropic.messages.create({
      model: 'claude-sim',
      max_tokens: 1024,
      messages: user(PROMPT),
      output_config: { format: { type: 'json_schema', schema: strictOutputSchema(STORY_SCHEMA) } },
    });
    const text = msg.content[0].type === 'text' ? msg.content[0].text : '';
    const parsed = JSON.parse(text);
    for (const key of STORY_SCHEMA.required) expect(parsed).toHaveProperty(key);
    expect(parsed.mood).toBe('dark');
    expect(parsed.chapters.length).toBeGreaterThanOrEqual(2);
    // strings come from the prompt's words
    const promptWords = new Set(PROMPT.replace(/<[^>]+>|\*/g, ' ').match(/[\w']+/g));
    expect(parsed.title.split(' ').every((w: string) => promptWords.has(w))).toBe(true);
  });

  it('is deterministic: the same request gives the same text', async () => {
    const params = { model: 'claude-sim', max_tokens: 40, messages: user('Tell me about the moon. It is grey. It is far.') };
    const a = await sdk.anthropic.messages.create(params);
    const b = await sdk.anthropic.messages.create(params);
    expect(a.content).toEqual(b.content);
    expect(a.id).not.toBe(b.id);
  });
});

describe('openai', () => {
  it('chat completion, plain and streamed with usage', async () => {
    const done = await sdk.openai.chat.completions.create({ model: 'gpt-sim', messages: user(PROMPT) });
    expect(done.object).toBe('chat.completion');
    expect(done.choices[0].message.content).toBe(composeText(PROMPT).text);
    expect(done.choices[0].finish_reason).toBe('stop');
    expect(done.usage?.total_tokens).toBe(done.usage!.prompt_tokens + done.usage!.completion_tokens);

    const stream = await sdk.openai.chat.completions.create({
      model: 'gpt-sim',
      messages: user(PROMPT),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(done.choices[0].message.content);
    expect(finish).toBe('stop');
    expect(usage).toEqual(done.usage);
  });

  it('finish_reason length when max_completion_tokens cuts', async () => {
    const r = await sdk.openai.chat.completions.create({ model: 'gpt-sim', messages: user(PROMPT), max_completion_tokens: 3 });
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('json_schema and json_object response formats give parseable JSON', async () => {
    const r = await sdk.openai.chat.completions.create({
      model: 'gpt-sim',
      messages: user(PROMPT),
      // Not strict: the schema has an optional property, which strict mode refuses.
      response_format: { type: 'json_schema', json_schema: { name: 'story', schema: STORY_SCHEMA, strict: false } },
    });
    const parsed = JSON.parse(r.choices[0].message.content!);
    expect(typeof parsed.published).toBe('boolean');
    expect(parsed.rating).toBeLessThan(1);

    const obj = await sdk.openai.chat.completions.create({ model: 'gpt-sim', messages: user(PROMPT), response_format: { type: 'json_object' } });
    const value = JSON.parse(obj.choices[0].message.content!);
    expect(typeof value).toBe('object');
    expect(value).not.toBeNull();
  });

  it('embeddings: base64 default equals float, dimensions honoured, similar texts closer', async () => {
    const inputs = ['the dragon sleeps under the hill', 'a dragon sleeps under a hill', 'tax forms are due in april'];
    const b64 = await sdk.openai.embeddings.create({ model: 'emb-sim', input: inputs });
    const float = await sdk.openai.embeddings.create({ model: 'emb-sim', input: inputs, encoding_format: 'float' });
    expect(b64.data).toHaveLength(3);
    expect(b64.data[0].embedding).toHaveLength(256);
    expect(b64.data.map((d) => d.embedding)).toEqual(float.data.map((d) => d.embedding));
    expect(b64.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, near, far] = float.data.map((d) => d.embedding);
    expect(cosine(a, near)).toBeGreaterThan(cosine(a, far));
    expect(b64.usage.prompt_tokens).toBe(inputs.reduce((n, s) => n + Math.ceil(s.length / 4), 0));

    const small = await sdk.openai.embeddings.create({ model: 'emb-sim', input: 'one text', dimensions: 32 });
    expect(small.data[0].embedding).toHaveLength(32);
    expect(sdk.sim.stats().byRoute['openai.embeddings'].embeddingInputs).toBe(7);
  });
});

describe('ollama', () => {
  it('chat without and with streaming, and with a schema format', async () => {
    const r = await sdk.ollama.chat({ model: 'llama-sim', messages: user(PROMPT), stream: false });
    expect(r.done).toBe(true);
    expect(r.message.content).toBe(composeText(PROMPT).text);
    expect(r.eval_count).toBe(Math.ceil(r.message.content.length / 4));
    expect(r.prompt_eval_count).toBeGreaterThan(0);

    const parts: string[] = [];
    let last: any;
    for await (const part of await sdk.ollama.chat({ model: 'llama-sim', messages: user(PROMPT), stream: true })) {
      parts.push(part.message.content);
      last = part;
    }
    expect(parts.join('')).toBe(r.message.content);
    expect(parts.length).toBeGreaterThan(3);
    expect(last.done).toBe(true);
    expect(last.eval_count).toBe(r.eval_count);

    const s = await sdk.ollama.chat({ model: 'llama-sim', messages: user(PROMPT), format: STORY_SCHEMA });
    expect(JSON.parse(s.message.content).mood).toBe('dark');
    const j = await sdk.ollama.chat({ model: 'llama-sim', messages: user(PROMPT), format: 'json' });
    expect(typeof JSON.parse(j.message.content)).toBe('object');
  });

  it('embed returns one vector per input', async () => {
    const r = await sdk.ollama.embed({ model: 'nomic-sim', input: ['alpha beta', 'alpha gamma', 'zeta eta'] });
    expect(r.embeddings).toHaveLength(3);
    expect(r.embeddings[0]).toHaveLength(256);
    expect(cosine(r.embeddings[0], r.embeddings[1])).toBeGreaterThan(cosine(r.embeddings[0], r.embeddings[2]));
    expect(r.prompt_eval_count).toBe(3 + 3 + 2);
  });

  it('raw HTTP /api/chat streams NDJSON by default', async () => {
    const res = await fetch(`${sdk.sim.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: user('Hi there.') }) });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1).done).toBe(true);
    expect(lines.at(-1).eval_count).toBe(3);
  });
});

describe('faults', () => {
  const ask = (opts?: Anthropic.RequestOptions, content = 'Hello.') =>
    sdk.anthropic.messages.create({ model: 'claude-sim', max_tokens: 50, messages: user(content) }, opts);

  it('http429 surfaces as RateLimitError with retry-after headers', async () => {
    sdk.sim.configure({ faults: [{ route: 'anthropic.messages', kind: 'http429', retryAfterMs: 1500 }] });
    const err = await caught(ask());
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers.get('retry-after')).toBe('2');
    expect(err.headers.get('retry-after-ms')).toBe('1500');
    expect(err.type).toBe('rate_limit_error');
    const s = sdk.sim.stats();
    expect(s.rateLimited).toBe(1);
    expect(s.byRoute['anthropic.messages'].errors).toEqual({ http429: 1 });
  });

  it('http529, http500, http400 and http401 map to the SDK error classes', async () => {
    const cases = [
      ['http529', 529, Anthropic.InternalServerError, 'overloaded_error'],
      ['http500', 500, Anthropic.InternalServerError, 'api_error'],
      ['http400', 400, Anthropic.BadRequestError, 'invalid_request_error'],
      ['http401', 401, Anthropic.AuthenticationError, 'authentication_error'],
    ] as const;
    for (const [kind, status, cls, type] of cases) {
      sdk.sim.configure({ faults: [{ kind }] });
      const err = await caught(ask());
      expect(err).toBeInstanceOf(cls);
      expect(err.status).toBe(status);
      expect(err.type).toBe(type);
    }
    expect(sdk.sim.stats().byProvider.anthropic.errors).toEqual({ http529: 1, http500: 1, http400: 1, http401: 1 });
  });

  it('http429NoRetryAfter is a 429 without retry-after headers; http404 is the not-found error of an unknown model', async () => {
    sdk.sim.configure({ faults: [{ kind: 'http429NoRetryAfter' }] });
    const limited = await caught(ask());
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.headers.get('retry-after')).toBeNull();
    expect(limited.headers.get('retry-after-ms')).toBeNull();
    sdk.sim.configure({ faults: [{ kind: 'http404', contains: '"model":"claude-gone"' }] });
    await expect(ask()).resolves.toMatchObject({ type: 'message' });
    const missing = await caught(sdk.anthropic.messages.create({ model: 'claude-gone', max_tokens: 5, messages: user('x') }));
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing.type).toBe('not_found_error');
    const openaiMissing = await caught(sdk.openai.chat.completions.create({ model: 'claude-gone', messages: [{ role: 'user', content: 'x' }] }));
    expect(openaiMissing).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('http429Quota is OpenAI\'s 429 insufficient_quota (an account without credit), without retry-after', async () => {
    sdk.sim.configure({ faults: [{ kind: 'http429Quota' }] });
    const err = await caught(sdk.openai.chat.completions.create({ model: 'g', messages: user('x') }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota', param: null, message: expect.stringMatching(/exceeded your current quota/) });
    expect(err.headers.get('retry-after')).toBeNull();
    expect(err.headers.get('retry-after-ms')).toBeNull();
    expect(sdk.sim.stats().byRoute['openai.chat'].errors).toEqual({ http429Quota: 1 });
  });

  it('streamError sends HTTP 200, a few deltas, then the provider\'s mid-stream error event; other requests are left alone', async () => {
    sdk.sim.configure({ faults: [{ kind: 'streamError' }] });
    const raw = async (path: string, body: unknown) => {
      const res = await fetch(`${sdk.sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, text: await res.text() };
    };
    const anthropic = await raw('/v1/messages', { model: 'm', max_tokens: 200, stream: true, messages: user(PROMPT) });
    expect(anthropic.status).toBe(200);
    expect(anthropic.text.match(/event: content_block_delta/g)).toHaveLength(3);
    expect(anthropic.text).not.toMatch(/message_stop/);
    const anthropicEvents = anthropic.text.trimEnd().split('\n\n');
    expect(anthropicEvents.at(-1)).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(anthropicEvents.at(-1)!.split('data: ')[1])).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

    const openai = await raw('/v1/chat/completions', { model: 'g', stream: true, messages: user(PROMPT) });
    expect(openai.status).toBe(200);
    const chunks = openai.text.trimEnd().split('\n\n').map((c) => JSON.parse(c.replace(/^data: /, '')));
    expect(chunks.filter((c) => c.choices?.[0]?.delta?.content)).toHaveLength(3);
    expect(chunks.at(-1)).toEqual({ error: expect.objectContaining({ type: 'server_error', code: 'overloaded' }) });
    expect(openai.text).not.toMatch(/\[DONE\]/);

    // Through the SDKs: each throws its APIError without a status, mid-iteration.
    const stream = sdk.anthropic.messages.stream({ model: 'm', max_tokens: 200, messages: user(PROMPT) });
    let deltas = 0;
    stream.on('text', () => deltas++);
    const err = await caught(stream.finalMessage());
    expect(deltas).toBe(3);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBeUndefined();
    expect(err.type).toBe('overloaded_error');
    const ollamaErr = await caught(
      (async () => {
        for await (const part of await sdk.ollama.chat({ model: 'l', stream: true, messages: user(PROMPT) })) void part;
      })(),
    );
    expect(ollamaErr.message).toBe('Overloaded');

    // A request that does not stream never matches the rule.
    await expect(sdk.openai.chat.completions.create({ model: 'g', messages: user('x') })).resolves.toMatchObject({ object: 'chat.completion' });
    const s = sdk.sim.stats();
    expect(s.byProvider.anthropic.errors).toEqual({ streamError: 2 });
    expect(s.byProvider.openai).toMatchObject({ ok: 1, errors: { streamError: 1 } });
    expect(s.byProvider.ollama.errors).toEqual({ streamError: 1 });
  });

  it('streams a tool call\'s arguments as pieces of JSON text (Anthropic and OpenAI), as the APIs do', async () => {
    const tool = { name: 'add_memory', description: 'Remember.', schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } };
    const said = 'I climb the spiral stairs of the lighthouse and light the great lamp against the storm';
    const events = (text: string) => text.trimEnd().split('\n\n').map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
    const post = async (path: string, body: unknown) =>
      (await fetch(`${sdk.sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).text();

    const anthropic = events(await post('/v1/messages', {
      model: 'm', max_tokens: 300, stream: true, messages: user(`${said} [tools: add_memory]`),
      tools: [{ name: tool.name, description: tool.description, input_schema: tool.schema }],
    }));
    const pieces = anthropic.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json as string);
    expect(pieces[0]).toBe('');
    expect(pieces.length).toBeGreaterThan(2);
    expect(JSON.parse(pieces.join(''))).toEqual({ text: said });

    const openai = events(await post('/v1/chat/completions', {
      model: 'g', stream: true, messages: user(`${said} [tools: add_memory]`),
      tools: [{ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.schema } }],
    }).then((t) => t.replace(/data: \[DONE\]\n\n$/, '')));
    const args = openai.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []).map((t: any) => t.function?.arguments as string);
    expect(args.filter(Boolean).length).toBeGreaterThan(1);
    expect(JSON.parse(args.join(''))).toEqual({ text: said });
  });

  it('apiKeys rejects other keys with each provider’s 401', async () => {
    sdk.sim.configure({ apiKeys: { anthropic: 'test-key', openai: 'right-key' } });
    await expect(ask()).resolves.toMatchObject({ type: 'message' });
    const wrong = new Anthropic({ baseURL: sdk.sim.url, apiKey: 'wrong', maxRetries: 0 });
    const err = await caught(wrong.messages.create({ model: 'm', max_tokens: 5, messages: user('x') }));
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err.status).toBe(401);
    const viaHeader = await fetch(`${sdk.sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'test-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: user('x') }),
    });
    expect(viaHeader.status).toBe(200);

    const oerr = await caught(sdk.openai.chat.completions.create({ model: 'gpt-sim', messages: user('x') }));
    expect(oerr).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(oerr.code).toBe('invalid_api_key');
    expect(sdk.sim.stats().byProvider.openai.errors).toEqual({ '401': 1 });
  });

  it('hang: the client times out and the simulator counts the abort and frees the slot', async () => {
    sdk.sim.configure({ faults: [{ kind: 'hang', contains: 'HANG-ME' }], limits: { anthropic: { maxConcurrent: 1 } } });
    const quick = new Anthropic({ baseURL: sdk.sim.url, apiKey: 'k', maxRetries: 0, timeout: 300 });
    const err = await caught(quick.messages.create({ model: 'm', max_tokens: 5, messages: user('HANG-ME please') }));
    expect(err).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    await waitFor(() => sdk.sim.stats().aborted === 1 && sdk.sim.stats().currentConcurrent === 0, 2000);
    const s = sdk.sim.stats();
    expect(s.aborted).toBe(1);
    expect(s.currentConcurrent).toBe(0);
    expect(s.byRoute['anthropic.messages'].errors).toEqual({ hang: 1 });
    // the slot is free again
    await expect(ask()).resolves.toMatchObject({ stop_reason: 'end_turn' });
  });

  it('malformed: the SDKs throw on the broken body', async () => {
    sdk.sim.configure({ faults: [{ kind: 'malformed' }] });
    await expect(ask()).rejects.toThrow();
    await expect(sdk.openai.chat.completions.create({ model: 'gpt-sim', messages: user('x') })).rejects.toThrow();
    const res = await fetch(`${sdk.sim.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, messages: user('x') }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect(res.json()).rejects.toThrow();
    expect(sdk.sim.stats().byPurpose.unknown.errors).toEqual({ malformed: 3 });
  });

  it('times and rate limit how often a rule fires; reset restarts the budget', async () => {
    sdk.sim.configure({ faults: [{ kind: 'http500', times: 1 }] });
    await expect(ask()).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    await expect(ask()).resolves.toMatchObject({ type: 'message' });
    sdk.sim.resetStats();
    await expect(ask()).rejects.toBeInstanceOf(Anthropic.InternalServerError);

    sdk.sim.configure({ faults: [{ kind: 'http500', rate: 0.5 }], seed: 7 });
    const outcomes: boolean[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await ask().then(() => true, () => false));
    const failures = outcomes.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(17);
    // same seed after reset → same pattern
    sdk.sim.resetStats();
    const again: boolean[] = [];
    for (let i = 0; i < 20; i++) again.push(await ask().then(() => true, () => false));
    expect(again).toEqual(outcomes);
  });

  it('faults can target a purpose', async () => {
    sdk.sim.configure({ faults: [{ purpose: 'outline', kind: 'http500' }] });
    await expect(ask({ headers: { 'x-storyloom-purpose': 'summary' } })).resolves.toMatchObject({ type: 'message' });
    await expect(ask({ headers: { 'x-storyloom-purpose': 'outline' } })).rejects.toBeInstanceOf(Anthropic.InternalServerError);
  });
});

describe('limits', () => {
  it('maxConcurrent: excess concurrent requests get 429 and peak stays at the limit', async () => {
    sdk.sim.configure({ limits: { anthropic: { maxConcurrent: 2 } }, latency: { default: { fixedMs: 150 } } });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => sdk.anthropic.messages.create({ model: 'm', max_tokens: 20, messages: user(`Request ${i}.`) })),
    );
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(rejected).toHaveLength(3);
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(Anthropic.RateLimitError);
      expect(r.reason.headers.get('retry-after')).toBe('1');
      expect(r.reason.headers.get('retry-after-ms')).toBe('1000');
    }
    const s = sdk.sim.stats();
    expect(s.rateLimited).toBe(3);
    expect(s.peakConcurrent).toBe(2);
    expect(s.byProvider.anthropic.peakConcurrent).toBe(2);
    expect(s.ok).toBe(2);
    // two requests of ~150 ms in parallel
    expect(s.byProvider.anthropic.busyMs).toBeGreaterThanOrEqual(280);
    // other providers are not limited
    await expect(sdk.openai.chat.completions.create({ model: 'g', messages: user('x') })).resolves.toBeTruthy();
  });

  it('rpm: the request over the per-minute budget gets 429 advertising the wait for a free slot', async () => {
    sdk.sim.configure({ limits: { openai: { rpm: 3 } } });
    for (let i = 0; i < 3; i++) await sdk.openai.embeddings.create({ model: 'e', input: `text ${i}` });
    const err = await caught(sdk.openai.embeddings.create({ model: 'e', input: 'one too many' }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('rate_limit_exceeded');
    const waitMs = Number(err.headers.get('retry-after-ms'));
    expect(waitMs).toBeGreaterThan(55_000);
    expect(waitMs).toBeLessThanOrEqual(60_000);
    expect(err.headers.get('retry-after')).toBe(String(Math.ceil(waitMs / 1000)));
    expect(sdk.sim.stats().byProvider.openai).toMatchObject({ requests: 4, ok: 3, rateLimited: 1, errors: { '429': 1 } });
  });
});

describe('latency', () => {
  it('applies fixed latency scaled by timeScale, purpose over route over default', async () => {
    sdk.sim.configure({
      timeScale: 0.1,
      latency: {
        default: { fixedMs: 3000 },
        byRoute: { 'openai.chat': { fixedMs: 1000 } },
        byPurpose: { sheet: { fixedMs: 0 } },
      },
    });
    const time = async (p: () => Promise<unknown>) => {
      const t0 = performance.now();
      await p();
      return performance.now() - t0;
    };
    const route = await time(() => sdk.openai.chat.completions.create({ model: 'g', messages: user('x') }));
    await sdk.openai.chat.completions.create({ model: 'g', messages: user('x') }, { headers: { 'x-storyloom-purpose': 'sheet' } });
    const dflt = await time(() => sdk.ollama.embed({ model: 'e', input: 'x' }));
    // What the simulator chose to wait, exactly; the wall times show it waited at least that long
    // (a loaded machine can only add to them, so they have no upper bound here).
    expect(sdk.sim.latencies().slice(-3).map((d) => [d.route, d.purpose, d.ms])).toEqual([
      ['openai.chat', expect.any(String), 100],
      ['openai.chat', 'sheet', 0],
      ['ollama.embed', expect.any(String), 300],
    ]);
    expect(route).toBeGreaterThanOrEqual(95);
    expect(dflt).toBeGreaterThanOrEqual(295);
  });

  it('a client leaving mid-stream stops the stream, frees the slot and counts as aborted', async () => {
    sdk.sim.configure({ latency: { default: { fixedMs: 0, perOutputTokenMs: 10 } } });
    const stream = sdk.anthropic.messages.stream({ model: 'm', max_tokens: 500, messages: user(PROMPT) });
    const first = new Promise<void>((resolve) => stream.on('text', () => resolve()));
    await first;
    stream.abort();
    await stream.done().catch(() => undefined);
    await waitFor(() => sdk.sim.stats().aborted === 1 && sdk.sim.stats().currentConcurrent === 0, 2000);
    const s = sdk.sim.stats();
    expect(s).toMatchObject({ aborted: 1, ok: 0, currentConcurrent: 0 });
    expect(s.byRoute['anthropic.messages'].aborted).toBe(1);
  });

  it('spreads per-output-token latency across stream deltas', async () => {
    sdk.sim.configure({ latency: { default: { fixedMs: 0, perOutputTokenMs: 4 } } });
    const stream = await sdk.openai.chat.completions.create({ model: 'g', messages: user(PROMPT), stream: true });
    const arrivals: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) arrivals.push(performance.now());
    const tokens = Math.ceil(composeText(PROMPT).text.length / 4); // 40 tokens → ~160 ms
    const spread = arrivals.at(-1)! - arrivals[0];
    expect(arrivals.length).toBeGreaterThan(5);
    // The pacing the simulator chose, exactly: no first-byte wait, 4 ms for each output token and
    // no jitter. The wall clock only bounds it from below (a loaded machine can only add).
    expect(sdk.sim.stats().byRoute['openai.chat'].outputTokens).toBe(tokens);
    expect(sdk.sim.latencies().slice(-1)).toEqual([expect.objectContaining({ route: 'openai.chat', meanMs: tokens * 4, ms: tokens * 4 })]);
    expect(spread).toBeGreaterThan(tokens * 4 * 0.5);
  });
});

describe('stats and control endpoints', () => {
  it('counts by purpose from the x-storyloom-purpose header', async () => {
    await sdk.anthropic.messages.create(
      { model: 'm', max_tokens: 50, messages: user('A summary. Of things.') },
      { headers: { 'x-storyloom-purpose': 'summary' } },
    );
    await sdk.openai.chat.completions.create({ model: 'g', messages: user('x') }, { headers: { 'x-storyloom-purpose': 'outline' } });
    await sdk.openai.embeddings.create({ model: 'e', input: ['a', 'b'] }, { headers: { 'x-storyloom-purpose': 'embedding' } });
    await new Ollama({ host: sdk.sim.url, headers: { 'x-storyloom-purpose': 'summary' } }).chat({ model: 'l', messages: user('y') });
    await sdk.ollama.embed({ model: 'e', input: 'z' });
    const s = sdk.sim.stats();
    expect(s.totalRequests).toBe(5);
    expect(s.ok).toBe(5);
    expect(Object.keys(s.byPurpose).sort()).toEqual(['embedding', 'outline', 'summary', 'unknown']);
    expect(s.byPurpose.summary.requests).toBe(2);
    expect(s.byPurpose.summary.outputTokens).toBe(Math.ceil('A summary. Of things.'.length / 4) + 1);
    expect(s.byPurpose.embedding.embeddingInputs).toBe(2);
    expect(s.byPurpose.unknown.requests).toBe(1);
    expect(s.byProvider).toMatchObject({ anthropic: { requests: 1 }, openai: { requests: 2 }, ollama: { requests: 2 } });
    expect(s.byRoute['ollama.embed'].embeddingInputs).toBe(1);
    expect(s.currentConcurrent).toBe(0);
  });

  it('serves stats, config, reset and 404 over HTTP', async () => {
    await sdk.openai.chat.completions.create({ model: 'g', messages: user('x') });
    const stats = await json(fetch(`${sdk.sim.url}/_sim/stats`));
    expect(stats.totalRequests).toBe(1);
    expect(stats.byRoute['openai.chat'].ok).toBe(1);

    const put = await fetch(`${sdk.sim.url}/_sim/config`, {
      method: 'PUT',
      body: JSON.stringify({ faults: [{ route: 'openai.chat', kind: 'http500' }], latency: { byPurpose: { smoke: { fixedMs: 5 } } } }),
    });
    expect(put.status).toBe(200);
    const cfg = await json(fetch(`${sdk.sim.url}/_sim/config`));
    expect(cfg.faults).toEqual([{ route: 'openai.chat', kind: 'http500' }]);
    expect(cfg.latency.byPurpose.smoke).toEqual({ fixedMs: 5 });
    expect(cfg.latency.default).toEqual({ fixedMs: 0 });
    expect(cfg.embeddingDimensions).toBe(256);
    const err = await caught(sdk.openai.chat.completions.create({ model: 'g', messages: user('x') }));
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);

    const bad = await fetch(`${sdk.sim.url}/_sim/config`, { method: 'PUT', body: JSON.stringify({ timescale: 2 }) });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toMatch(/timescale/);
    const badKind = await fetch(`${sdk.sim.url}/_sim/config`, { method: 'PUT', body: JSON.stringify({ faults: [{ kind: 'boom' }] }) });
    expect(badKind.status).toBe(400);
    expect(sdk.sim.config().faults).toHaveLength(1); // a rejected update changes nothing

    expect((await fetch(`${sdk.sim.url}/_sim/reset`, { method: 'POST' })).status).toBe(200);
    const after = await json(fetch(`${sdk.sim.url}/_sim/stats`));
    expect(after.totalRequests).toBe(0);
    expect(after.byRoute['openai.chat']).toMatchObject({ requests: 0, ok: 0, errors: {} });

    const missing = await fetch(`${sdk.sim.url}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.type).toBe('not_found');
  });

  it('rejects invalid requests with the provider’s 400', async () => {
    const err = await caught(sdk.anthropic.messages.create({ model: 'm', messages: user('x') } as any));
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.message).toMatch(/max_tokens/);
    const res = await fetch(`${sdk.sim.url}/v1/chat/completions`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
    expect((await json(res)).error.type).toBe('invalid_request_error');
  });

  it('startSimulator validates config and close() ends hung requests', async () => {
    await expect(startSimulator({ timeScale: -1 })).rejects.toThrow(/timeScale/);
    const other = await startSimulator({ faults: [{ kind: 'hang' }] });
    expect(other.url).toBe(`http://127.0.0.1:${other.port}`);
    const pending = fetch(`${other.url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'e', input: 'x' }) }).then(
      () => 'answered',
      () => 'connection closed',
    );
    // Under load the request may take a while to arrive: poll rather than sleep a fixed time.
    await waitFor(() => other.stats().currentConcurrent >= 1, 10_000);
    expect(other.stats().currentConcurrent).toBe(1);
    await other.close();
    expect(await pending).toBe('connection closed');
    expect(other.stats()).toMatchObject({ aborted: 1, currentConcurrent: 0 });
  });
});

describe('cli arguments', () => {
  it('flags override the environment; bad flags are usage errors', () => {
    expect(parseArgs([], {})).toEqual({ port: 7800, host: '127.0.0.1' });
    expect(parseArgs(['--port', '9000', '--time-scale=0.25'], { SIM_PORT: '7000', SIM_TIME_SCALE: '2' })).toEqual({
      port: 9000,
      host: '127.0.0.1',
      timeScale: 0.25,
    });
    expect(parseArgs(['--config', 'x.json', '--host', '0.0.0.0'], { SIM_PORT: '7001' })).toMatchObject({
      port: 7001,
      host: '0.0.0.0',
      configFile: 'x.json',
    });
    expect(() => parseArgs(['--verbose'], {})).toThrow(/unknown argument "--verbose"/);
    expect(() => parseArgs(['--port', 'http'], {})).toThrow(/--port must be a port number/);
    expect(() => parseArgs(['--time-scale'], {})).toThrow(/needs a value/);
    expect(() => parseArgs([], { SIM_TIME_SCALE: '-1' })).toThrow(/SIM_TIME_SCALE/);
  });
});
