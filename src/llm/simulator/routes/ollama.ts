/** Ollama native API: /api/chat (NDJSON stream by default, `format` json or schema) and /api/embed. */
import { complete, type OutputFormat } from '../completion';
import { composeScreenplay, screenplayRequest } from '../screenplay';
import { embed } from '../embeddings';
import { BadRequest, jsonReply, type Frame, type Reply } from '../reply';
import { allMessagesText, deltasWithTokens, estimateTokens, lastUserText } from '../text';
import {
  asBody,
  embeddingInputs,
  MAX_EMBEDDING_DIMENSIONS,
  optionalObject,
  optionalPositiveInt,
  requireArray,
  requireString,
  type Body,
} from './request';
import type { RouteHandler } from './route';
import { offersTools } from '../tool-calls';
import { ollamaToolReply } from './tool-replies';

/** Nominal per-token durations (ns) so callers computing tokens/s never divide by zero. */
const NS_PER_TOKEN = 1_000_000;

function outputFormat(format: unknown): OutputFormat {
  if (format === undefined || format === null || format === '') return { kind: 'text' };
  if (format === 'json') return { kind: 'json-object' };
  if (typeof format === 'object' && !Array.isArray(format)) return { kind: 'json-schema', schema: format };
  throw new BadRequest(`format: expected "json" or a JSON schema object (got ${JSON.stringify(format)})`);
}

/** num_predict <= 0 (e.g. -1) means no limit in Ollama. */
function numPredict(body: Body): number | undefined {
  const n = optionalObject(body, 'options')?.num_predict;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

function line(data: unknown, outputTokens = 0): Frame {
  return { data: `${JSON.stringify(data)}\n`, outputTokens };
}

export const ollamaChat: RouteHandler = {
  name: 'ollama.chat',
  path: '/api/chat',
  handle(raw, ctx): Reply {
    const body = asBody(raw);
    const model = requireString(body, 'model');
    const messages = body.messages === undefined ? [] : requireArray(body, 'messages', false);
    if (offersTools(body)) return ollamaToolReply(body, messages, model, ctx);

    const promptTokens = estimateTokens(allMessagesText(messages));
    const screenplay = screenplayRequest('', messages);
    const answer = screenplay
      ? composeScreenplay(screenplay, numPredict(body), ctx.wrongShape)
      : complete(lastUserText(messages), outputFormat(body.format), numPredict(body), ctx.wrongShape);
    const usage = { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
    const createdAt = ctx.now.toISOString();
    const done = {
      done: true,
      done_reason: answer.truncated ? 'length' : 'stop',
      total_duration: (promptTokens + answer.outputTokens) * NS_PER_TOKEN,
      load_duration: 0,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: promptTokens * NS_PER_TOKEN,
      eval_count: answer.outputTokens,
      eval_duration: answer.outputTokens * NS_PER_TOKEN,
    };

    // The HTTP API streams unless told otherwise (the JS client always says which it wants).
    if (body.stream === false) {
      return jsonReply({ model, created_at: createdAt, message: { role: 'assistant', content: answer.text }, ...done }, usage);
    }
    const frames = deltasWithTokens(answer.text).map((piece) =>
      line({ model, created_at: createdAt, message: { role: 'assistant', content: piece.text }, done: false }, piece.tokens),
    );
    frames.push(line({ model, created_at: createdAt, message: { role: 'assistant', content: '' }, ...done }));
    return { contentType: 'application/x-ndjson', streamFormat: 'ndjson', frames, usage };
  },
};

export const ollamaEmbed: RouteHandler = {
  name: 'ollama.embed',
  path: '/api/embed',
  handle(raw, ctx): Reply {
    const body = asBody(raw);
    const model = requireString(body, 'model');
    const inputs = embeddingInputs(body.input);
    const dims = optionalPositiveInt(body, 'dimensions', MAX_EMBEDDING_DIMENSIONS) ?? ctx.embeddingDimensions;
    const promptTokens = inputs.reduce((n, text) => n + estimateTokens(text), 0);
    return jsonReply(
      {
        model,
        embeddings: inputs.map((text) => embed(text, dims)),
        total_duration: promptTokens * NS_PER_TOKEN,
        load_duration: 0,
        prompt_eval_count: promptTokens,
      },
      { inputTokens: promptTokens, outputTokens: 0, embeddingInputs: inputs.length },
    );
  },
};
