import { randomUUID } from 'node:crypto';
import type { Message, Tool, ToolCall as ToolCallPart } from 'ollama';
import type { ProviderClientOptions } from '../anthropic.provider';
import { ollamaClient } from '../ollama.provider';
import type { CallOptions, ToolChatMessage, ToolChatProvider, ToolChatRequest, ToolChatResult } from '../types';

/**
 * Ollama /api/chat with native tools: `tools` in the request, `message.tool_calls` in the answer,
 * `role: "tool"` messages (with `tool_name`) fed back. Ollama gives calls no ids, so each gets a
 * unique one here (callers key write-once effects by it, as they do with the other providers' ids).
 */
export class OllamaToolChatProvider implements ToolChatProvider {
  readonly provider = 'ollama' as const;

  constructor(private readonly opts: ProviderClientOptions) {}

  async chatWithTools(req: ToolChatRequest, opts: CallOptions): Promise<ToolChatResult> {
    const client = ollamaClient(this.opts, opts);
    const request = {
      model: req.model,
      messages: [...(req.system ? [{ role: 'system', content: req.system }] : []), ...ollamaMessages(req.messages)],
      tools: req.tools.map((t): Tool => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema as Tool['function']['parameters'] } })),
      options: { num_predict: req.maxTokens, ...(req.temperature !== undefined ? { temperature: req.temperature } : {}) },
    };
    const withIds = (calls: ToolCallPart[] | undefined) => (calls ?? []).map((c) => ({ id: `ollama_${randomUUID()}`, name: c.function.name, arguments: c.function.arguments }));
    if (opts.onToken) {
      // Streamed: text in pieces (to onToken), tool calls in whichever chunks carry them, totals in the last.
      const stream = await client.chat({ ...request, stream: true });
      let text = '';
      const toolCalls: ToolCallPart[] = [];
      let last: { model: string; prompt_eval_count: number; eval_count: number; done_reason: string } | undefined;
      for await (const part of stream) {
        opts.onStreamEvent?.();
        if (part.message?.content) {
          text += part.message.content;
          opts.onToken(part.message.content);
        }
        toolCalls.push(...(part.message?.tool_calls ?? []));
        if (part.done) last = part;
      }
      return {
        text,
        toolCalls: withIds(toolCalls),
        usage: { inputTokens: last?.prompt_eval_count ?? 0, outputTokens: last?.eval_count ?? 0 },
        model: last?.model ?? req.model,
        stopReason: last?.done_reason ?? null,
      };
    }
    const response = await client.chat({ ...request, stream: false });
    return {
      text: response.message.content,
      toolCalls: withIds(response.message.tool_calls),
      usage: { inputTokens: response.prompt_eval_count ?? 0, outputTokens: response.eval_count ?? 0 },
      model: response.model,
      stopReason: response.done_reason ?? null,
    };
  }
}

function ollamaMessages(messages: ToolChatMessage[]): Message[] {
  return messages.map((m): Message => {
    if (m.role === 'user') return { role: 'user', content: m.content };
    if (m.role === 'tool') return { role: 'tool', content: m.content, tool_name: m.name };
    return {
      role: 'assistant',
      content: m.content,
      ...(m.toolCalls?.length
        ? { tool_calls: m.toolCalls.map((c) => ({ function: { name: c.name, arguments: (c.arguments && typeof c.arguments === 'object' ? c.arguments : {}) as Record<string, unknown> } })) }
        : {}),
    };
  });
}
