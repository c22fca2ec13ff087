/**
 * A model answer holding U+0000 (which Postgres refuses in text and jsonb) is kept without it:
 * its text, its streamed pieces (so watchers see the saved text), its tool calls' arguments and
 * the entry cached for it. Provider adapters are fakes here; the service is the real one.
 */
import type { CallLog, LlmCallRecord } from '../../src/llm/call-log';
import { LlmService } from '../../src/llm/llm-service';
import { ProviderRegistry } from '../../src/llm/registry';
import { MemoryCacheStore } from '../../src/llm/response-cache';
import type { ChatProvider, ToolChatProvider } from '../../src/llm/types';
import { withoutNul } from '../../src/llm/without-nul';

const usage = { inputTokens: 3, outputTokens: 4 };
const callLog = (): CallLog & { rows: LlmCallRecord[] } => {
  const rows: LlmCallRecord[] = [];
  return { rows, record: async (r) => void rows.push(r), flush: async () => undefined };
};

it('a chat answer and its streamed pieces lose their NULs, and the cached entry has none', async () => {
  const provider: ChatProvider = {
    provider: 'anthropic',
    chat: async (_request, options) => {
      for (const piece of ['INT. HOUSE\u0000 - ', '\u0000', 'DAY']) options.onToken?.(piece);
      return { text: 'INT. HOUSE\u0000 - \u0000DAY', usage, model: 'm', stopReason: 'end_turn' };
    },
  };
  const cache = new MemoryCacheStore();
  const llm = new LlmService({ registry: new ProviderRegistry().registerChat(provider), cache, callLog: callLog(), requestTimeoutMs: 1000 });
  const pieces: string[] = [];
  const call = { purpose: 'screenplay', provider: 'anthropic' as const, model: 'm', promptVersion: 'v', request: { messages: [{ role: 'user' as const, content: 'x' }], maxTokens: 5 }, useCache: true };
  const result = await llm.chat(call, { onToken: (d) => pieces.push(d) });
  expect(result.text).toBe('INT. HOUSE - DAY');
  expect(pieces).toEqual(['INT. HOUSE - ', 'DAY']);
  const again = await llm.chat(call);
  expect(again).toMatchObject({ cached: true, text: 'INT. HOUSE - DAY' });
});

it('a tool call\'s arguments lose their NULs, keys and nested values alike', async () => {
  const provider: ToolChatProvider = {
    provider: 'openai',
    chatWithTools: async () => ({
      text: 'thinking\u0000',
      usage,
      model: 'm',
      stopReason: 'tool_calls',
      toolCalls: [{ id: 'c1', name: 'update_world', arguments: { path: 'a\u0000.b', value: { ['k\u0000']: ['v\u0000', 1, true, null] } } }],
    }),
  };
  const llm = new LlmService({ registry: new ProviderRegistry().registerToolChat(provider), cache: new MemoryCacheStore(), callLog: callLog(), requestTimeoutMs: 1000 });
  const result = await llm.chatWithTools({
    purpose: 'session', provider: 'openai', model: 'm', promptVersion: 'v',
    request: { messages: [{ role: 'user', content: 'x' }], tools: [], maxTokens: 5 },
  });
  expect(result.text).toBe('thinking');
  expect(result.toolCalls).toEqual([{ id: 'c1', name: 'update_world', arguments: { path: 'a.b', value: { k: ['v', 1, true, null] } } }]);
});

it('withoutNul returns a value without NUL as it is (no copy)', () => {
  const value = { a: ['x', { b: 'y' }], n: 1 };
  expect(withoutNul(value)).toBe(value);
});
