/**
 * The simulator's screenplays through the real SDKs: valid Fountain built from the prompt,
 * streamed in each provider's wire format, max_tokens answered with each provider's truncation
 * signal, continuations that join up exactly, and Anthropic's count-tokens endpoint.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkFountain } from '../../src/domain/generation/fountain-check';
import { CONTINUE_PROMPT, personaBlock, SCREENPLAY_SYSTEM, userPrompt } from '../../src/domain/generation/prompt';
import { useSimulatorClients } from '../helpers/simulator-clients';

const PLOT = readFileSync(path.join(__dirname, '../fixtures/plots/harbour.txt'), 'utf8');
const personas = ['Mara Quill', 'Tobias Wren', 'Ines Calder'].map((name) => ({ name, description: `${name} is here.`, context: 'Speaks plainly.', voiceNotes: [] }));
const PROMPT = userPrompt('The Crossing', PLOT, personas.map((p) => personaBlock(p)));

const sdk = useSimulatorClients();

async function anthropicText(messages: Anthropic.MessageParam[], maxTokens: number) {
  const stream = sdk.anthropic.messages.stream({ model: 'claude-sim', max_tokens: maxTokens, system: SCREENPLAY_SYSTEM, messages });
  let deltas = 0;
  stream.on('text', () => deltas++);
  const message = await stream.finalMessage();
  const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  return { text, deltas, stop: message.stop_reason, usage: message.usage };
}

it('streams a valid, deterministic Fountain screenplay with the personas as characters (Anthropic SSE)', async () => {
  const a = await anthropicText([{ role: 'user', content: PROMPT }], 4096);
  const b = await anthropicText([{ role: 'user', content: PROMPT }], 4096);
  expect(a.text).toBe(b.text);
  expect(a.stop).toBe('end_turn');
  expect(a.deltas).toBeGreaterThan(50);
  const check = checkFountain(a.text);
  expect(check).toMatchObject({ ok: true, scenes: 16 });
  expect(check.ok && check.characters).toEqual(expect.arrayContaining(['MARA QUILL', 'TOBIAS WREN', 'INES CALDER']));
  // A 300-word plot makes a screenplay of the size the seed describes, within max_tokens 3072.
  expect(a.usage.output_tokens).toBeGreaterThan(1500);
  expect(a.usage.output_tokens).toBeLessThan(3072);
});

it('cuts at max_tokens with stop_reason max_tokens, and a continuation resumes exactly where it stopped', async () => {
  const full = await anthropicText([{ role: 'user', content: PROMPT }], 4096);
  const first = await anthropicText([{ role: 'user', content: PROMPT }], 300);
  expect(first.stop).toBe('max_tokens');
  expect(first.usage.output_tokens).toBeLessThanOrEqual(300);
  const rest = await anthropicText(
    [{ role: 'user', content: PROMPT }, { role: 'assistant', content: first.text }, { role: 'user', content: CONTINUE_PROMPT }],
    4096,
  );
  expect(rest.stop).toBe('end_turn');
  expect(first.text + rest.text).toBe(full.text);
});

it('streams chunks with finish_reason "length" at max_tokens (OpenAI SSE)', async () => {
  const stream = await sdk.openai.chat.completions.create({
    model: 'gpt-sim', stream: true, max_completion_tokens: 200, stream_options: { include_usage: true },
    messages: [{ role: 'system', content: SCREENPLAY_SYSTEM }, { role: 'user', content: PROMPT }],
  });
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  expect(finish).toBe('length');
  expect(text.startsWith('Title: ')).toBe(true);
});

it('streams NDJSON with done_reason "length" at num_predict (Ollama)', async () => {
  const stream = await sdk.ollama.chat({
    model: 'llama-sim', stream: true, options: { num_predict: 200 },
    messages: [{ role: 'system', content: SCREENPLAY_SYSTEM }, { role: 'user', content: PROMPT }],
  });
  let parts = 0;
  let reason: string | undefined;
  for await (const part of stream) {
    parts++;
    if (part.done) reason = part.done_reason;
  }
  expect(parts).toBeGreaterThan(10);
  expect(reason).toBe('length');
});

it('paces the stream at the configured tokens per second, scaled by the time scale', async () => {
  // 200 tokens a second, time scale 0.5: ~200 output tokens take ~0.5 s.
  sdk.sim.configure({ timeScale: 0.5, latency: { byPurpose: { unknown: { fixedMs: 0, perOutputTokenMs: 1000 / 200 } } } });
  try {
    const before = sdk.sim.latencies().at(-1)?.seq ?? 0;
    const started = Date.now();
    let firstAt = 0;
    const stream = sdk.anthropic.messages.stream({ model: 'claude-sim', max_tokens: 200, system: SCREENPLAY_SYSTEM, messages: [{ role: 'user', content: PROMPT }] });
    stream.on('text', () => (firstAt ||= Date.now()));
    const message = await stream.finalMessage();
    const total = Date.now() - started;
    // What the simulator paced the stream at, exactly: 5 ms a token × 0.5 for each output token,
    // nothing before the first byte, no jitter. The wall clock bounds it from below only (a
    // loaded machine can only add to it).
    const draws = sdk.sim.latencies(before);
    expect(draws).toEqual([expect.objectContaining({ route: 'anthropic.messages', meanMs: message.usage.output_tokens * 5 * 0.5, ms: message.usage.output_tokens * 5 * 0.5 })]);
    expect(message.usage.output_tokens).toBeGreaterThan(180);
    expect(firstAt - started).toBeLessThan(total / 2);
    expect(total).toBeGreaterThan(400);
  } finally {
    sdk.sim.configure({ timeScale: 1, latency: null });
  }
});

it('answers Anthropic\'s count-tokens endpoint', async () => {
  const counted = await sdk.anthropic.messages.countTokens({ model: 'claude-sim', system: SCREENPLAY_SYSTEM, messages: [{ role: 'user', content: PROMPT }] });
  expect(counted.input_tokens).toBe(Math.ceil(`${SCREENPLAY_SYSTEM}\n${PROMPT}`.length / 4));
  expect(sdk.sim.stats().byRoute['anthropic.countTokens'].requests).toBe(1);
});
