/**
 * Native tool calling in the simulator, for the three wire formats. The answer is a pure
 * function of the conversation:
 * - after the player's message, the model asks for several tools at once (parallel tool use):
 *   the tools named by a `[tools: a, b!bad, c]` directive in that message (`!bad` sends arguments
 *   that break the tool's schema; `[tools: none]` asks for none), else DEFAULT_PLAN's tools that
 *   the request offers (else the first one offered);
 * - once tool results are in, it answers with text, unless `[rounds: N]` asked for N rounds of
 *   tool calls first.
 * Arguments are sampled from each tool's JSON schema; a string property named like a query or
 * a text gets the player's words (directives removed).
 */
import { fnv1a } from './hash';
import { sampleFromSchema } from './schema-sample';
import { composeText, contentText, estimateTokens, stripMarkup, words } from './text';

/** What the model asks for when the player gives no directive: 3 reads and 2 writes. */
export const DEFAULT_PLAN = ['read_state', 'search_memories', 'query_relationships', 'add_memory', 'update_state'];
const TEXT_FIELDS = new Set(['query', 'text', 'content', 'topic', 'description', 'summary', 'note']);

export interface OfferedTool {
  name: string;
  schema: unknown;
}

/** The conversation as the simulator needs it, whatever the provider's shapes. */
export interface ToolConversation {
  tools: OfferedTool[];
  /** The last plain user message (not a tool result). */
  playerText: string;
  /** Rounds of tool calls the assistant made since that message. */
  rounds: number;
  /** Text of the tool results since that message. */
  results: string[];
}

export interface PlannedCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ToolAnswer {
  text: string;
  calls: PlannedCall[];
  outputTokens: number;
}

const DIRECTIVE = /\[(tools|rounds):([^\]]*)\]/gi;

function directives(text: string): { tools?: string[]; rounds: number } {
  let tools: string[] | undefined;
  let rounds = 1;
  for (const m of text.matchAll(DIRECTIVE)) {
    const value = m[2].trim();
    if (m[1].toLowerCase() === 'rounds') rounds = Math.max(0, Number.parseInt(value, 10) || 0);
    else tools = value.toLowerCase() === 'none' ? [] : value.split(',').map((t) => t.trim()).filter(Boolean);
  }
  return { tools, rounds };
}

function argumentsFor(tool: OfferedTool | undefined, said: string, bad: boolean): Record<string, unknown> {
  if (bad) return { unexpected_argument: 12345 };
  const sampled = sampleFromSchema(tool?.schema ?? { type: 'object' }, { words: words(stripMarkup(said)) });
  const args = sampled && typeof sampled === 'object' && !Array.isArray(sampled) ? (sampled as Record<string, unknown>) : {};
  const props = (tool?.schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  for (const [key, prop] of Object.entries(props)) {
    if (TEXT_FIELDS.has(key) && prop?.type === 'string' && said) args[key] = said.slice(0, 200);
  }
  return args;
}

/** The model's answer to a request that offered tools. `idPrefix` makes call ids unique per request. */
export function answerWithTools(conv: ToolConversation, idPrefix: string): ToolAnswer {
  const said = conv.playerText.replace(DIRECTIVE, ' ').replace(/\s+/g, ' ').trim();
  const { tools, rounds } = directives(conv.playerText);
  const offered = new Map(conv.tools.map((t) => [t.name, t]));
  const plan = tools ?? (DEFAULT_PLAN.some((n) => offered.has(n)) ? DEFAULT_PLAN.filter((n) => offered.has(n)) : conv.tools.slice(0, 1).map((t) => t.name));
  if (conv.rounds < rounds && plan.length > 0) {
    const seed = fnv1a(`${idPrefix}|${conv.rounds}|${conv.playerText}`).toString(36);
    const calls = plan.map((entry, i) => {
      const [name, flag] = entry.split('!');
      return { id: `${seed}_${conv.rounds}_${i}`, name, arguments: argumentsFor(offered.get(name), said, flag === 'bad') };
    });
    return { text: '', calls, outputTokens: estimateTokens(JSON.stringify(calls)) };
  }
  const source = [said, ...conv.results.map((r) => stripMarkup(r))].join('\n');
  const composed = composeText(source || 'The story continues.', 300);
  return { text: composed.text, calls: [], outputTokens: estimateTokens(composed.text) };
}

type Msg = { role?: unknown; content?: unknown; tool_calls?: unknown };

/** Anthropic: tool_use blocks in assistant turns, tool_result blocks in user turns. */
export function anthropicConversation(body: Record<string, unknown>, messages: unknown[]): ToolConversation {
  const tools = (body.tools as { name: string; input_schema?: unknown }[]).map((t) => ({ name: t.name, schema: t.input_schema }));
  let playerText = '';
  let rounds = 0;
  let results: string[] = [];
  for (const raw of messages) {
    const m = raw as Msg;
    const blocks = Array.isArray(m.content) ? (m.content as { type?: string; content?: unknown }[]) : [];
    if (m.role === 'user' && blocks.some((b) => b.type === 'tool_result')) {
      results.push(...blocks.filter((b) => b.type === 'tool_result').map((b) => contentText(b.content)));
    } else if (m.role === 'user') {
      playerText = contentText(m.content);
      rounds = 0;
      results = [];
    } else if (m.role === 'assistant' && blocks.some((b) => b.type === 'tool_use')) rounds++;
  }
  return { tools, playerText, rounds, results };
}

/** OpenAI and Ollama: `tool_calls` on assistant messages, `role: "tool"` results. */
export function functionConversation(body: Record<string, unknown>, messages: unknown[]): ToolConversation {
  const tools = (body.tools as { function?: { name?: string; parameters?: unknown } }[]).map((t) => ({ name: t.function?.name ?? '', schema: t.function?.parameters }));
  let playerText = '';
  let rounds = 0;
  let results: string[] = [];
  for (const raw of messages) {
    const m = raw as Msg;
    if (m.role === 'tool') results.push(contentText(m.content));
    else if (m.role === 'user') {
      playerText = contentText(m.content);
      rounds = 0;
      results = [];
    } else if (m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length) rounds++;
  }
  return { tools, playerText, rounds, results };
}

export function offersTools(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}
