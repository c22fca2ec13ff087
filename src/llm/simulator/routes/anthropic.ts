/** Anthropic Messages API: POST /v1/messages, JSON or SSE, with output_config.format json_schema. */
import { complete, type OutputFormat } from '../completion';
import { composeScreenplay, screenplayRequest } from '../screenplay';
import { BadRequest, jsonReply, type Frame, type Reply } from '../reply';
import { allMessagesText, contentText, deltasWithTokens, estimateTokens, lastUserText } from '../text';
import { asBody, optionalObject, optionalPositiveInt, requireArray, requireString, type Body } from './request';
import type { RouteHandler } from './route';
import { offersTools } from '../tool-calls';
import { anthropicToolReply } from './tool-replies';
import { strictSchemaProblem } from '../strict-schema';

function outputFormat(body: Body): OutputFormat {
  // output_config.format is current; output_format is the earlier beta spelling.
  const format = optionalObject(body, 'output_config')?.format ?? body.output_format;
  if (format && typeof format === 'object' && (format as Body).type === 'json_schema') {
    const schema = (format as Body).schema;
    const refused = strictSchemaProblem(schema, 'anthropic');
    if (refused) throw new BadRequest(refused);
    return { kind: 'json-schema', schema };
  }
  return { kind: 'text' };
}

function sse(event: string, data: unknown, outputTokens = 0): Frame {
  return { data: `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, outputTokens };
}

export const anthropicMessages: RouteHandler = {
  name: 'anthropic.messages',
  path: '/v1/messages',
  handle(raw, ctx): Reply {
    const body = asBody(raw);
    const model = requireString(body, 'model');
    const messages = requireArray(body, 'messages');
    const maxTokens = optionalPositiveInt(body, 'max_tokens');
    if (maxTokens === undefined) throw new BadRequest('max_tokens: field required');
    if (offersTools(body)) return anthropicToolReply(body, messages, model, ctx);

    const inputTokens = estimateTokens(`${contentText(body.system)}\n${allMessagesText(messages)}`);
    const screenplay = screenplayRequest(contentText(body.system), messages);
    const answer = screenplay
      ? composeScreenplay(screenplay, maxTokens, ctx.wrongShape)
      : complete(lastUserText(messages), outputFormat(body), maxTokens, ctx.wrongShape);
    const stopReason = answer.truncated ? 'max_tokens' : 'end_turn';
    const usage = { inputTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
    const id = `msg_sim_${ctx.requestId}`;
    const message = (content: unknown[], stop: string | null, outputTokens: number) => ({
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stop,
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        service_tier: 'standard',
      },
    });

    if (body.stream !== true) {
      return jsonReply(message([{ type: 'text', text: answer.text, citations: null }], stopReason, answer.outputTokens), usage);
    }

    // Event order and shapes as the API sends them; MessageStream rebuilds the message from exactly these.
    const frames: Frame[] = [
      sse('message_start', { type: 'message_start', message: message([], null, 1) }),
      sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } }),
      sse('ping', { type: 'ping' }),
    ];
    for (const piece of deltasWithTokens(answer.text)) {
      const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece.text } };
      frames.push(sse('content_block_delta', delta, piece.tokens));
    }
    frames.push(
      sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null },
        usage: { output_tokens: answer.outputTokens },
      }),
      sse('message_stop', { type: 'message_stop' }),
    );
    return { contentType: 'text/event-stream; charset=utf-8', streamFormat: 'sse', frames, usage };
  },
};

/** Anthropic's token counting: POST /v1/messages/count_tokens answers `{ input_tokens }` for a would-be request. */
export const anthropicCountTokens: RouteHandler = {
  name: 'anthropic.countTokens',
  path: '/v1/messages/count_tokens',
  handle(raw): Reply {
    const body = asBody(raw);
    requireString(body, 'model');
    const messages = requireArray(body, 'messages');
    const inputTokens = estimateTokens(`${contentText(body.system)}\n${allMessagesText(messages)}`);
    return jsonReply({ input_tokens: inputTokens }, { inputTokens, outputTokens: 0, embeddingInputs: 0 });
  },
};
