import Anthropic from '@anthropic-ai/sdk';
import { sendMessage, type ProviderClientOptions } from '../anthropic.provider';
import type { CallOptions, ToolChatMessage, ToolChatProvider, ToolChatRequest, ToolChatResult } from '../types';
import { PURPOSE_HEADER } from '../types';

/**
 * Anthropic Messages API with native tool use: `tools` in the request, `tool_use` blocks in the
 * answer, `tool_result` blocks (in a user turn) fed back. Its own client, retries off.
 */
export class AnthropicToolChatProvider implements ToolChatProvider {
  readonly provider = 'anthropic' as const;
  private readonly client: Anthropic;

  constructor(opts: ProviderClientOptions) {
    this.client = new Anthropic({ apiKey: opts.apiKey ?? null, baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 });
  }

  async chatWithTools(req: ToolChatRequest, opts: CallOptions): Promise<ToolChatResult> {
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model: req.model,
      max_tokens: req.maxTokens,
      messages: anthropicMessages(req.messages),
      tools: req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema as Anthropic.Tool.InputSchema })),
      ...(req.system ? { system: req.system } : {}),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
    const requestOptions = { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
    const message = await sendMessage(this.client, params, requestOptions, opts);
    const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    const toolCalls = message.content.flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, arguments: b.input }] : []));
    return {
      text,
      toolCalls,
      usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
      model: message.model,
      stopReason: message.stop_reason ?? null,
    };
  }
}

/** Tool results go back as `tool_result` blocks of one user message (consecutive results merge). */
function anthropicMessages(messages: ToolChatMessage[]): Anthropic.MessageParam[] {
  const out: Anthropic.MessageParam[] = [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      const blocks: Anthropic.ContentBlockParam[] = [
        ...(m.content ? [{ type: 'text' as const, text: m.content }] : []),
        ...(m.toolCalls ?? []).map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.name, input: c.arguments })),
      ];
      out.push({ role: 'assistant', content: blocks.length ? blocks : m.content });
    } else {
      const block: Anthropic.ToolResultBlockParam = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content, ...(m.isError ? { is_error: true } : {}) };
      const last = out[out.length - 1];
      if (last?.role === 'user' && Array.isArray(last.content) && last.content.every((b) => b.type === 'tool_result')) last.content.push(block);
      else out.push({ role: 'user', content: [block] });
    }
  }
  return out;
}
