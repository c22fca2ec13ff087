/** Checks on request bodies, failing with the 400 message a real API would give. */
import { BadRequest } from '../reply';

export type Body = Record<string, unknown>;

export function asBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest('request body must be a JSON object');
  }
  return body as Body;
}

export function requireString(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || !v) throw new BadRequest(`${key}: field required (a non-empty string)`);
  return v;
}

export function requireArray(body: Body, key: string, nonEmpty = true): unknown[] {
  const v = body[key];
  if (!Array.isArray(v) || (nonEmpty && v.length === 0)) {
    throw new BadRequest(`${key}: field required (a${nonEmpty ? ' non-empty' : 'n'} array)`);
  }
  return v;
}

export function optionalPositiveInt(body: Body, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new BadRequest(`${key}: must be an integer between 1 and ${max}`);
  }
  return v;
}

export function optionalObject(body: Body, key: string): Body | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequest(`${key}: must be an object`);
  return v as Body;
}

/** Embedding input: a string, strings, or token arrays (rendered as words so they still hash). */
export function embeddingInputs(value: unknown): string[] {
  const fromTokens = (a: unknown[]) => a.map((t) => `t${String(t)}`).join(' ');
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0) {
    if (value.every((v) => typeof v === 'string')) return value as string[];
    if (value.every((v) => typeof v === 'number')) return [fromTokens(value)];
    if (value.every((v) => Array.isArray(v) && v.every((t) => typeof t === 'number'))) return value.map((v) => fromTokens(v as unknown[]));
  }
  throw new BadRequest('input: must be a string, a non-empty array of strings, or token arrays');
}

export const MAX_EMBEDDING_DIMENSIONS = 16384;
