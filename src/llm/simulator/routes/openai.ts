/** OpenAI chat completions (JSON or SSE, response_format) and embeddings (float or base64). */
import { complete, type OutputFormat } from '../completion';
import { composeScreenplay, screenplayRequest } from '../screenplay';
import { embed, toBase64Float32 } from '../embeddings';
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
import { openaiToolReply } from './tool-replies';
import { strictSchemaProblem } from '../strict-schema';

function outputFormat(body: Body): OutputFormat {
  const format = optionalObject(body, 'response_format');
  if (!format || format.type === 'text') return { kind: 'text' };
  if (format.type === 'json_object') return { kind: 'json-object' };
  if (format.type === 'json_schema') {
    const spec = format.json_schema as Body | undefined;
    if (!spec || typeof spec !== 'object' || typeof spec.name !== 'string') {
      throw new BadRequest("response_format.json_schema: 'name' is required");
    }
    if (spec.strict === true) {
      const refused = strictSchemaProblem(spec.schema, 'openai', spec.name);
      if (refused) throw new BadRequest(refused);
    }
    return { kind: 'json-schema', schema: spec.schema ?? {} };
  }
  throw new BadRequest(`response_format.type: unsupported value ${JSON.stringify(format.type)}`);
}

function sseData(data: unknown, outputTokens = 0): Frame {
  return { data: `data: ${JSON.stringify(data)}\n\n`, outputTokens };
}

export const openaiChat: RouteHandler = {
  name: 'openai.chat',
  path: '/v1/chat/completions',
  handle(raw, ctx): Reply {
    const body = asBody(raw);
    const model = requireString(body, 'model');
    const messages = requireArray(body, 'messages');
    const maxTokens = optionalPositiveInt(body, 'max_completion_tokens') ?? optionalPositiveInt(body, 'max_tokens');
    if (offersTools(body)) return openaiToolReply(body, messages, model, ctx);

    const promptTokens = estimateTokens(allMessagesText(messages));
    const screenplay = screenplayRequest('', messages);
    const answer = screenplay
      ? composeScreenplay(screenplay, maxTokens, ctx.wrongShape)
      : complete(lastUserText(messages), outputFormat(body), maxTokens, ctx.wrongShape);
    const finishReason = answer.truncated ? 'length' : 'stop';
    const usage = { inputTokens: promptTokens, outputTokens: answer.outputTokens, embeddingInputs: 0 };
    const usageBody = {
      prompt_tokens: promptTokens,
      completion_tokens: answer.outputTokens,
      total_tokens: promptTokens + answer.outputTokens,
    };
    const id = `chatcmpl-sim${ctx.requestId}`;
    const created = Math.floor(ctx.now.getTime() / 1000);
    const base = { id, created, model, system_fingerprint: 'fp_simulator', service_tier: 'default' };

    if (body.stream !== true) {
      return jsonReply(
        {
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: answer.text, refusal: null, annotations: [] },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage: usageBody,
        },
        usage,
      );
    }

    const includeUsage = optionalObject(body, 'stream_options')?.include_usage === true;
    // With include_usage every chunk carries `usage: null` and one extra, choice-less chunk carries the totals.
    const chunk = (choices: unknown[], extra: Body = includeUsage ? { usage: null } : {}) => ({
      ...base,
      object: 'chat.completion.chunk',
      choices,
      ...extra,
    });
    const choice = (delta: unknown, finish: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
    const frames: Frame[] = [sseData(chunk([choice({ role: 'assistant', content: '', refusal: null })]))];
    for (const piece of deltasWithTokens(answer.text)) {
      frames.push(sseData(chunk([choice({ content: piece.text })]), piece.tokens));
    }
    frames.push(sseData(chunk([choice({}, finishReason)])));
    if (includeUsage) frames.push(sseData(chunk([], { usage: usageBody })));
    frames.push({ data: 'data: [DONE]\n\n', outputTokens: 0 });
    return { contentType: 'text/event-stream; charset=utf-8', streamFormat: 'sse', frames, usage };
  },
};

export const openaiEmbeddings: RouteHandler = {
  name: 'openai.embeddings',
  path: '/v1/embeddings',
  handle(raw, ctx): Reply {
    const body = asBody(raw);
    const model = requireString(body, 'model');
    const inputs = embeddingInputs(body.input);
    const dims = optionalPositiveInt(body, 'dimensions', MAX_EMBEDDING_DIMENSIONS) ?? ctx.embeddingDimensions;
    const encoding = body.encoding_format ?? 'float';
    if (encoding !== 'float' && encoding !== 'base64') {
      throw new BadRequest(`encoding_format: must be 'float' or 'base64' (got ${JSON.stringify(encoding)})`);
    }
    const promptTokens = inputs.reduce((n, text) => n + estimateTokens(text), 0);
    return jsonReply(
      {
        object: 'list',
        data: inputs.map((text, index) => {
          const vector = embed(text, dims);
          return { object: 'embedding', index, embedding: encoding === 'base64' ? toBase64Float32(vector) : vector };
        }),
        model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      },
      { inputTokens: promptTokens, outputTokens: 0, embeddingInputs: inputs.length },
    );
  },
};
