/**
 * A turn's reply streams while the turn runs (the provider's stream through the official SDK,
 * Postgres NOTIFY to the listener): the reply step's deltas arrive before the Update answers
 * and make exactly the stored reply; a tool step's (empty) text is marked as not the reply.
 */
import { randomUUID } from 'node:crypto';
import { ReplyStreamPrinter, sendTurn, sendTurnStreaming } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { subscribeToStream, type StreamEvent } from '../../src/db/stream-channel';
import { turnStreamKey } from '../../src/shared/sessions';
import { testDatabaseUrl, useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('story-session-stream');

beforeEach(() => {
  // Output tokens take time, so the reply reaches the listener in several pieces.
  stack.sim.configure({ faults: [], latency: { byPurpose: { session: { fixedMs: 0, perOutputTokenMs: 15 } } } });
});

it('streams the reply step while the turn runs; its deltas concatenate to the stored reply', async () => {
  const sessionId = randomUUID();
  const updateId = randomUUID();
  const events: (StreamEvent & { at: number })[] = [];
  const sub = await subscribeToStream(testDatabaseUrl(), turnStreamKey(sessionId, updateId), (e) => events.push({ ...e, at: Date.now() }));
  try {
    const result = await sendTurn(stack.env.client, { sessionId, title: 'Streams', taskQueue: stack.app.taskQueue, text: 'I open the old map', updateId });
    const answeredAt = Date.now();
    await waitFor(async () => events.some((e) => e.type === 'done'));
    const deltas = events.filter((e): e is Extract<StreamEvent, { type: 'delta' }> & { at: number } => e.type === 'delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas[0].at).toBeLessThan(answeredAt);
    expect(deltas.every((d) => d.variant === 2)).toBe(true);
    expect(deltas.map((d) => d.text).join('')).toBe(result.reply);
    // Step 1 asked for tools: its stream ends with a restart, step 2 (the reply) with done.
    expect(events.filter((e) => e.type !== 'delta').map((e) => `${e.type}:${e.variant}`)).toEqual(['start:1', 'restart:1', 'start:2', 'done:2']);
    const stored = await new SessionsRepository(stack.app.services.db).turn(sessionId, 1);
    expect(stored?.reply).toBe(result.reply);
  } finally {
    await sub.close();
  }
});

it('the CLI path prints the reply as it arrives, once, and the result is the Update answer', async () => {
  const sessionId = randomUUID();
  let printed = '';
  const writes: number[] = [];
  const result = await sendTurnStreaming(stack.env.client, testDatabaseUrl(), { sessionId, title: 'Streams', taskQueue: stack.app.taskQueue, text: 'I sing to the sea' }, (text) => {
    printed += text;
    writes.push(Date.now());
  });
  expect(printed).toBe(`\n${result.reply}`);
  expect(writes.length).toBeGreaterThan(2);
  expect(result).toMatchObject({ turnNumber: 1, metrics: { llmCalls: 2, tools: 5 } });
});

it('a reply the provider breaks off (overloaded mid-stream) and that is asked for again is printed once, after a cut-short line', async () => {
  stack.sim.configure({ faults: [{ kind: 'streamError', purpose: 'session', times: 1 }] });
  const sessionId = randomUUID();
  let printed = '';
  const result = await sendTurnStreaming(stack.env.client, testDatabaseUrl(), { sessionId, title: 'Streams', taskQueue: stack.app.taskQueue, text: 'I step out to the sea [tools: none]' }, (text) => {
    printed += text;
  });
  // What the broken stream had sent, a line saying why it starts over, then the reply whole, once.
  const marker = /\n\[cut short: anthropic \(model [^)]+\) is overloaded[^\]]*; the reply is written again\]\n/;
  expect(printed).toMatch(marker);
  const [before, after] = printed.split(marker);
  expect(result.reply.startsWith(before.replace(/^\n/, ''))).toBe(true);
  expect(after).toBe(result.reply);
});

it('a printer that missed the stream still prints the whole reply, and only what it had not shown', async () => {
  let out = '';
  const missed = new ReplyStreamPrinter((t) => (out += t));
  await missed.finish('The tide turns.', 0);
  expect(out).toBe('\nThe tide turns.');

  out = '';
  const partial = new ReplyStreamPrinter((t) => (out += t));
  partial.onEvent({ type: 'start', variant: 1, attempt: 1 });
  partial.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'The tide ' });
  await partial.finish('The tide turns.', 0);
  expect(out).toBe('\nThe tide turns.');

  out = '';
  const preamble = new ReplyStreamPrinter((t) => (out += t));
  preamble.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'Let me look.' });
  preamble.onEvent({ type: 'restart', variant: 1, reason: 'tool calls' });
  preamble.onEvent({ type: 'start', variant: 2, attempt: 1 });
  preamble.onEvent({ type: 'delta', variant: 2, seq: 0, text: 'The tide turns.' });
  preamble.onEvent({ type: 'done', variant: 2, version: 1, truncated: false });
  await preamble.finish('The tide turns.', 0);
  expect(out).toBe('\nLet me look.\nThe tide turns.');

  // A step cut short and taken again: the reader is told why the text starts over.
  out = '';
  const retried = new ReplyStreamPrinter((t) => (out += t));
  retried.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'The ti' });
  retried.onEvent({ type: 'failed', variant: 1, message: 'anthropic (model m) stopped streaming its answer for 3000 ms' });
  retried.onEvent({ type: 'start', variant: 1, attempt: 2 });
  retried.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'The tide turns.' });
  retried.onEvent({ type: 'done', variant: 1, version: 1, truncated: false });
  await retried.finish('The tide turns.', 0);
  expect(out).toBe('\nThe ti\n[cut short: anthropic (model m) stopped streaming its answer for 3000 ms; the reply is written again]\nThe tide turns.');

  // A failure no attempt follows (the last one, a cancel) promises nothing.
  out = '';
  const last = new ReplyStreamPrinter((t) => (out += t));
  last.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'The ti' });
  last.onEvent({ type: 'failed', variant: 1, message: 'cancelled' });
  expect(out).toBe('\nThe ti\n');
});
