/**
 * Native tool calling through the official SDKs against the simulator over HTTP: several tool
 * calls in one answer, arguments from each tool's schema, results fed back in each provider's
 * shape, then a text reply.
 */
import { createProviderRegistry } from '../../src/llm/registry';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import type { ToolChatMessage, ToolSpec } from '../../src/llm/types';
import type { Provider } from '../../src/shared/llm-routing';
import { testConfig } from '../helpers/harness';

const MODELS: Record<Provider, string> = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini', ollama: 'llama3.2' };
const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const TOOLS: ToolSpec[] = [
  { name: 'read_state', description: 'Read the world state.', inputSchema: object({ keys: { type: 'array', items: { type: 'string' } } }) },
  { name: 'search_memories', description: 'Search memories.', inputSchema: object({ query: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10 } }, ['query']) },
  { name: 'query_relationships', description: 'Who relates to whom.', inputSchema: object({ character: { type: 'string' } }) },
  { name: 'add_memory', description: 'Remember something.', inputSchema: object({ text: { type: 'string' } }, ['text']) },
  { name: 'update_state', description: 'Change the world state.', inputSchema: object({ changes: { type: 'object' } }, ['changes']) },
];

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());

const registry = () => createProviderRegistry(testConfig(sim, { DATABASE_URL: 'postgres://unused/x' }).llm);

describe.each(['anthropic', 'openai', 'ollama'] as Provider[])('%s tool calling', (provider) => {
  const call = (messages: ToolChatMessage[]) =>
    registry().toolChat(provider).chatWithTools({ model: MODELS[provider], system: 'You tell a story.', messages, tools: TOOLS, maxTokens: 300 }, { purpose: 'session' });

  it('asks for several tools at once, then answers with text once the results are in', async () => {
    const first = await call([{ role: 'user', content: 'I climb to the lighthouse' }]);
    expect(first.toolCalls.map((c) => c.name)).toEqual(['read_state', 'search_memories', 'query_relationships', 'add_memory', 'update_state']);
    expect(new Set(first.toolCalls.map((c) => c.id)).size).toBe(5);
    expect(first.toolCalls[1].arguments).toMatchObject({ query: 'I climb to the lighthouse' });
    expect(first.toolCalls[3].arguments).toEqual({ text: 'I climb to the lighthouse' });
    const results: ToolChatMessage[] = first.toolCalls.map((c) => ({ role: 'tool', toolCallId: c.id, name: c.name, content: `result of ${c.name}: the lamp is dark` }));
    const second = await call([{ role: 'user', content: 'I climb to the lighthouse' }, { role: 'assistant', content: '', toolCalls: first.toolCalls }, ...results]);
    expect(second.toolCalls).toEqual([]);
    expect(second.text.length).toBeGreaterThan(0);
  });

  it('streams (the SDK\'s stream): the same tool calls, and text deltas that make the reply', async () => {
    let events = 0;
    const streamed = (messages: ToolChatMessage[], deltas: string[]) =>
      registry().toolChat(provider).chatWithTools(
        { model: MODELS[provider], system: 'You tell a story.', messages, tools: TOOLS, maxTokens: 300 },
        { purpose: 'session', onToken: (d) => deltas.push(d), onStreamEvent: () => events++ },
      );
    const asked: string[] = [];
    const first = await streamed([{ role: 'user', content: 'I climb to the lighthouse' }], asked);
    // The tool calls' pieces are signs of life too (they restart the service's request timer).
    expect(events).toBeGreaterThan(asked.length);
    const plain = await call([{ role: 'user', content: 'I climb to the lighthouse' }]);
    expect(first.toolCalls.map((c) => [c.name, c.arguments])).toEqual(plain.toolCalls.map((c) => [c.name, c.arguments]));
    expect(new Set(first.toolCalls.map((c) => c.id)).size).toBe(5);
    expect(asked.join('')).toBe(first.text);
    const results: ToolChatMessage[] = first.toolCalls.map((c) => ({ role: 'tool', toolCallId: c.id, name: c.name, content: `result of ${c.name}: the lamp is dark` }));
    const deltas: string[] = [];
    const reply = await streamed([{ role: 'user', content: 'I climb to the lighthouse' }, { role: 'assistant', content: '', toolCalls: first.toolCalls }, ...results], deltas);
    expect(reply.toolCalls).toEqual([]);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(reply.text);
    expect(reply.usage.outputTokens).toBeGreaterThan(0);
  });

  it('follows a [tools: …] directive, sending arguments that break the schema for `!bad`', async () => {
    const answer = await call([{ role: 'user', content: 'Look around [tools: read_state, add_memory!bad]' }]);
    expect(answer.toolCalls.map((c) => c.name)).toEqual(['read_state', 'add_memory']);
    expect(answer.toolCalls[1].arguments).toEqual({ unexpected_argument: 12345 });
  });

  it('keeps calling tools for [rounds: N] rounds', async () => {
    const messages: ToolChatMessage[] = [{ role: 'user', content: 'Wait [rounds: 2] [tools: read_state]' }];
    for (let round = 0; round < 2; round++) {
      const answer = await call(messages);
      expect(answer.toolCalls.map((c) => c.name)).toEqual(['read_state']);
      messages.push({ role: 'assistant', content: '', toolCalls: answer.toolCalls }, { role: 'tool', toolCallId: answer.toolCalls[0].id, name: 'read_state', content: '{}' });
    }
    expect((await call(messages)).toolCalls).toEqual([]);
  });
});
