/**
 * Answers to requests that offer tools, in each provider's wire format: one JSON body, or
 * streamed (SSE for Anthropic and OpenAI, NDJSON for Ollama) with the text in deltas and the
 * tool calls as each API streams them — Anthropic and OpenAI send a call's arguments as pieces of
 * JSON text, each piece a token's worth of time after the last (so a long call keeps a stream
 * alive as a real one does), Ollama a whole call in one chunk — so the SDKs' stream helpers
 * rebuild the same answer.
 */
import { jsonReply, type Frame, type Reply, type Usage } from '../reply';
import { allMessagesText, contentText, deltasWithTokens, estimateTokens } from '../text';
import { anthropicConversation, answerWithTools, functionConversation } from '../tool-calls';
import type { Body } from './request';
import type { RouteContext } from './route';

const sse = (data: unknown, event?: string, outputTokens = 0): Frame => ({ data: `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`, outputTokens });
const ndjson = (data: unknown, outputTokens = 0): Frame => ({ data: `${JSON.stringify(data)}\n`, outputTokens });
const streamed = (format: 'sse' | 'ndjson', frames: Frame[], usage: Usage): Reply => ({
  contentType: format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
  streamFormat: format,
  frames,
  usage,
});

export function anthropicToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  const answer = answerWithTools(anthropicConversation(body, messages), `toolu_sim${ctx.requestId}`);
  const inputTokens = estimateTokens(`${contentText(body.system)}\n${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const content = [
    ...(answer.text ? [{ type: 'text', text: answer.text, citations: null }] : []),
    ...answer.calls.map((c) => ({ type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: c.arguments })),
  ];
  const stopReason = answer.calls.length ? 'tool_use' : 'end_turn';
  const usage = { inputTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
  const message = (blocks: unknown[], stop: string | null, outputTokens: number) => ({
    id: `msg_sim_${ctx.requestId}`,
    type: 'message',
    role: 'assistant',
    model,
    content: blocks,
    stop_reason: stop,
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
  });
  if (body.stream !== true) return jsonReply(message(content, stopReason, answer.outputTokens), usage);
  const frames: Frame[] = [sse({ type: 'message_start', message: message([], null, 1) }, 'message_start')];
  let index = 0;
  if (answer.text) {
    frames.push(sse({ type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } }, 'content_block_start'));
    for (const piece of deltasWithTokens(answer.text)) {
      frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece.text } }, 'content_block_delta', piece.tokens));
    }
    frames.push(sse({ type: 'content_block_stop', index }, 'content_block_stop'));
    index++;
  }
  for (const c of answer.calls) {
    frames.push(sse({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: {} } }, 'content_block_start'));
    // As the API does: an empty piece first, then the JSON text in pieces.
    for (const piece of [{ text: '', tokens: 0 }, ...deltasWithTokens(JSON.stringify(c.arguments))]) {
      frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece.text } }, 'content_block_delta', piece.tokens));
    }
    frames.push(sse({ type: 'content_block_stop', index }, 'content_block_stop'));
    index++;
  }
  frames.push(
    sse({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null }, usage: { output_tokens: answer.outputTokens } }, 'message_delta'),
    sse({ type: 'message_stop' }, 'message_stop'),
  );
  return streamed('sse', frames, usage);
}

export function openaiToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  const answer = answerWithTools(functionConversation(body, messages), `call_sim${ctx.requestId}`);
  const promptTokens = estimateTokens(`${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const toolCalls = answer.calls.map((c) => ({ id: `call_${c.id}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  const base = { id: `chatcmpl-sim${ctx.requestId}`, created: Math.floor(ctx.now.getTime() / 1000), model, system_fingerprint: 'fp_simulator', service_tier: 'default' };
  const usage = { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
  const usageBody = { prompt_tokens: promptTokens, completion_tokens: answer.outputTokens, total_tokens: promptTokens + answer.outputTokens };
  if (body.stream === true) {
    const includeUsage = (body.stream_options as Body | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Body = includeUsage ? { usage: null } : {}) => sse({ ...base, object: 'chat.completion.chunk', choices, ...extra });
    const choice = (delta: unknown, finish: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
    const frames: Frame[] = [chunk([choice({ role: 'assistant', content: toolCalls.length ? null : '', refusal: null })])];
    for (const piece of toolCalls.length ? [] : deltasWithTokens(answer.text)) frames.push({ ...chunk([choice({ content: piece.text })]), outputTokens: piece.tokens });
    toolCalls.forEach((c, index) => {
      frames.push(chunk([choice({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] })]));
      for (const piece of deltasWithTokens(c.function.arguments)) {
        frames.push({ ...chunk([choice({ tool_calls: [{ index, function: { arguments: piece.text } }] })]), outputTokens: piece.tokens });
      }
    });
    frames.push(chunk([choice({}, toolCalls.length ? 'tool_calls' : 'stop')]));
    if (includeUsage) frames.push(chunk([], { usage: usageBody }));
    frames.push({ data: 'data: [DONE]\n\n', outputTokens: 0 });
    return streamed('sse', frames, usage);
  }
  return jsonReply(
    {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answer.calls.length ? null : answer.text, refusal: null, annotations: [], ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
          logprobs: null,
          finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
        },
      ],
      usage: usageBody,
    },
    usage,
  );
}

/** Ollama's tool calls carry no ids and their arguments as an object. */
export function ollamaToolReply(body: Body, messages: unknown[], model: string, ctx: RouteContext): Reply {
  const answer = answerWithTools(functionConversation(body, messages), `ollama${ctx.requestId}`);
  const promptTokens = estimateTokens(`${allMessagesText(messages)}\n${JSON.stringify(body.tools)}`);
  const toolCalls = answer.calls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
  const usage = { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
  const createdAt = ctx.now.toISOString();
  // The HTTP API streams unless told otherwise: text in pieces, the tool calls in one chunk, then the totals.
  if (body.stream !== false) {
    const frames = deltasWithTokens(answer.text).map((piece) => ndjson({ model, created_at: createdAt, message: { role: 'assistant', content: piece.text }, done: false }, piece.tokens));
    if (toolCalls.length) frames.push(ndjson({ model, created_at: createdAt, message: { role: 'assistant', content: '', tool_calls: toolCalls }, done: false }, answer.outputTokens));
    frames.push(
      ndjson({
        model, created_at: createdAt, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop',
        total_duration: 0, load_duration: 0, prompt_eval_count: promptTokens, prompt_eval_duration: 0, eval_count: answer.outputTokens, eval_duration: 0,
      }),
    );
    return streamed('ndjson', frames, usage);
  }
  return jsonReply(
    {
      model,
      created_at: createdAt,
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
    usage,
  );
}
