/** Answers to requests that offer tools, in each provider's wire format (non-streaming). */
import { jsonReply, BadRequest, type Reply } from '../reply';
import { allMessagesText, contentText, estimateTokens } from '../text';
import { anthropicConversation, answerWithTools, functionConversation } from '../tool-calls';
import type { Body } from './request';
import type { RouteContext } from './route';

function noStream(body: Body): void {
  if (body.stream === true) throw new BadRequest('stream: the simulator answers tool-calling requests without streaming');
}

export function anthropicToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  noStream(body);
  const answer = answerWithTools(anthropicConversation(body, messages), `toolu_sim${ctx.requestId}`);
  const inputTokens = estimateTokens(`${contentText(body.system)}\n${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const content = [
    ...(answer.text ? [{ type: 'text', text: answer.text, citations: null }] : []),
    ...answer.calls.map((c) => ({ type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: c.arguments })),
  ];
  return jsonReply(
    {
      id: `msg_sim_${ctx.requestId}`,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: answer.calls.length ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: { input_tokens: inputTokens, output_tokens: answer.outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
    },
    { inputTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 },
  );
}

export function openaiToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  noStream(body);
  const answer = answerWithTools(functionConversation(body, messages), `call_sim${ctx.requestId}`);
  const promptTokens = estimateTokens(`${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const toolCalls = answer.calls.map((c) => ({ id: `call_${c.id}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  return jsonReply(
    {
      id: `chatcmpl-sim${ctx.requestId}`,
      object: 'chat.completion',
      created: Math.floor(ctx.now.getTime() / 1000),
      model,
      system_fingerprint: 'fp_simulator',
      service_tier: 'default',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answer.calls.length ? null : answer.text, refusal: null, annotations: [], ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
          logprobs: null,
          finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: answer.outputTokens, total_tokens: promptTokens + answer.outputTokens },
    },
    { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 },
  );
}

/** Ollama's tool calls carry no ids and their arguments as an object. */
export function ollamaToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  if (body.stream !== false) noStream({ stream: true });
  const answer = answerWithTools(functionConversation(body, messages), `ollama${ctx.requestId}`);
  const promptTokens = estimateTokens(`${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const toolCalls = answer.calls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
  return jsonReply(
    {
      model,
      created_at: ctx.now.toISOString(),
      message: { role: 'assistant', content: answer.text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
      done: true,
      done_reason: 'stop',
      total_duration: 0,
      load_duration: 0,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 0,
      eval_count: answer.outputTokens,
      eval_duration: 0,
    },
    { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 },
  );
}
