import OpenAI from 'openai';
import { streamChatCompletion } from '../openai.provider';
import type { ProviderClientOptions } from '../anthropic.provider';
import type { CallOptions, ToolChatMessage, ToolChatProvider, ToolChatRequest, ToolChatResult } from '../types';
import { PURPOSE_HEADER } from '../types';

/**
 * OpenAI chat completions with native tool calling: `tools` (functions) in the request,
 * `tool_calls` in the answer, `role: "tool"` messages fed back. Its own client, retries off.
 */
export class OpenAIToolChatProvider implements ToolChatProvider {
  readonly provider = 'openai' as const;
  private readonly client: OpenAI;

  constructor(opts: ProviderClientOptions) {
    this.client = new OpenAI({ apiKey: opts.apiKey ?? 'missing-key', baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 });
  }

  async chatWithTools(req: ToolChatRequest, opts: CallOptions): Promise<ToolChatResult> {
    const params: OpenAI.ChatCompletionCreateParamsNonStreaming = {
      model: req.model,
      messages: [...(req.system ? [{ role: 'system' as const, content: req.system }] : []), ...openaiMessages(req.messages)],
      tools: req.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.inputSchema } })),
      parallel_tool_calls: true,
      max_completion_tokens: req.maxTokens,
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
    const requestOptions = { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
    if (opts.onToken) {
      const { toolCalls, ...streamed } = await streamChatCompletion(this.client, params, requestOptions, { onToken: opts.onToken, onStreamEvent: opts.onStreamEvent });
      return { ...streamed, toolCalls: toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: parseArguments(c.arguments) })) };
    }
    const completion = await this.client.chat.completions.create(params, requestOptions);
    const choice = completion.choices[0];
    const toolCalls = (choice?.message?.tool_calls ?? []).flatMap((c) =>
      c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: parseArguments(c.function.arguments) }] : [],
    );
    return {
      text: choice?.message?.content ?? '',
      toolCalls,
      usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
      model: completion.model,
      stopReason: choice?.finish_reason ?? null,
    };
  }
}

/** The JSON arguments, or the text as sent when it does not parse (the tool's schema check reports it). */
export function parseArguments(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function openaiMessages(messages: ToolChatMessage[]): OpenAI.ChatCompletionMessageParam[] {
  return messages.map((m): OpenAI.ChatCompletionMessageParam => {
    if (m.role === 'user') return { role: 'user', content: m.content };
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    return {
      role: 'assistant',
      content: m.content || null,
      ...(m.toolCalls?.length
        ? {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: 'function' as const,
              function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
            })),
          }
        : {}),
    };
  });
}
