/**
 * Builds a value that satisfies a JSON schema, deterministically, with strings made of words from the prompt,
 * so structured-output callers get parseable, valid and prompt-flavoured answers.
 *
 * Covers what structured-output schemas use: type (or a list of types), properties/required, items/prefixItems,
 * min/maxItems, enum/const, min/maxLength, format, numeric bounds and multipleOf, anyOf/oneOf (first non-null
 * branch), allOf (merged) and local $ref, and those constraints when a description states them (see
 * describedConstraints). `pattern` is not honoured.
 */
import { fnv1a } from './hash';

type Schema = Record<string, unknown>;

export interface SampleOptions {
  /** Words for strings; a fixed filler is used when empty. */
  words?: string[];
  /** Past this depth optional parts (array items, nullable values) are left out, so recursive schemas end. */
  maxDepth?: number;
}

const FILLER = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'simulated'];
const HARD_DEPTH_MARGIN = 8;

interface Ctx {
  root: unknown;
  words: string[];
  maxDepth: number;
}

export function sampleFromSchema(schema: unknown, opts: SampleOptions = {}): unknown {
  const words = opts.words && opts.words.length ? opts.words : FILLER;
  return sample(schema, { root: schema, words, maxDepth: opts.maxDepth ?? 8 }, '$', 0, 0);
}

function isSchema(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#')) return {}; // remote refs are out of scope: any value will do
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isSchema(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node ?? {};
}

function isNullOnly(s: unknown): boolean {
  return isSchema(s) && (s.type === 'null' || (Array.isArray(s.type) && s.type.every((t) => t === 'null')));
}

/** Flattens $ref, allOf and anyOf/oneOf into one schema; keywords next to them are kept. */
function flatten(schema: unknown, ctx: Ctx, seen = 0): Schema {
  if (schema === true || schema === undefined) return {};
  if (!isSchema(schema)) return { type: 'null' };
  if (seen > 32) return {};
  let s: Schema = { ...describedConstraints(schema.description), ...schema };
  if (typeof s.$ref === 'string') {
    const { $ref, ...rest } = s;
    s = { ...flatten(resolveRef($ref as string, ctx.root), ctx, seen + 1), ...rest };
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = s[key];
    if (!Array.isArray(branches) || branches.length === 0) continue;
    const { [key]: _dropped, ...rest } = s;
    const branch = branches.find((b) => !isNullOnly(flatten(b, ctx, seen + 1))) ?? branches[0];
    s = mergeSchemas(rest, flatten(branch, ctx, seen + 1));
  }
  if (Array.isArray(s.allOf)) {
    const { allOf, ...rest } = s;
    s = (allOf as unknown[]).reduce<Schema>((acc, part) => mergeSchemas(acc, flatten(part, ctx, seen + 1)), rest);
  }
  return s;
}

/**
 * Constraints a schema states in its description, as the Anthropic SDK's transform writes the ones
 * strict structured outputs refuse (`{minLength: 1, maxItems: 8}`): a model reads and keeps them.
 */
function describedConstraints(description: unknown): Schema {
  const block = typeof description === 'string' ? /\{([^{}]*)\}\s*$/.exec(description) : null;
  if (!block) return {};
  const out: Schema = {};
  for (const part of block[1].split(/,\s*(?=[A-Za-z$]\w*: )/)) {
    const at = part.indexOf(': ');
    if (at <= 0) continue;
    try {
      out[part.slice(0, at).trim()] = JSON.parse(part.slice(at + 2));
    } catch {
      // not a constraint the transform wrote: prose in braces
    }
  }
  return out;
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const out: Schema = { ...a, ...b };
  if (isSchema(a.properties) || isSchema(b.properties)) {
    out.properties = { ...(isSchema(a.properties) ? a.properties : {}), ...(isSchema(b.properties) ? b.properties : {}) };
  }
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    out.required = [...new Set([...(Array.isArray(a.required) ? a.required : []), ...(Array.isArray(b.required) ? b.required : [])])];
  }
  return out;
}

function pickType(s: Schema): string {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t) && t.length) return (t.find((x) => x !== 'null') ?? t[0]) as string;
  if (isSchema(s.properties) || Array.isArray(s.required) || s.additionalProperties !== undefined) return 'object';
  if (s.items !== undefined || Array.isArray(s.prefixItems)) return 'array';
  if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'].some((k) => k in s)) return 'number';
  return 'string';
}

/** `variant` varies enum/boolean picks between items of a uniqueItems array. */
function sample(schema: unknown, ctx: Ctx, path: string, depth: number, variant: number): unknown {
  const s = flatten(schema, ctx);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[variant % s.enum.length];
  const type = pickType(s);
  const allowsNull = s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null'));
  if (allowsNull && (type === 'null' || depth > ctx.maxDepth)) return null;
  if (depth > ctx.maxDepth + HARD_DEPTH_MARGIN) return type === 'array' ? [] : type === 'object' ? {} : null;
  switch (type) {
    case 'object':
      return sampleObject(s, ctx, path, depth);
    case 'array':
      return sampleArray(s, ctx, path, depth);
    case 'integer':
      return sampleNumber(s, true, path);
    case 'number':
      return sampleNumber(s, false, path);
    case 'boolean':
      return variant % 2 === 0;
    case 'null':
      return null;
    default:
      return sampleString(s, ctx, path);
  }
}

function sampleObject(s: Schema, ctx: Ctx, path: string, depth: number): Record<string, unknown> {
  const props = isSchema(s.properties) ? s.properties : {};
  const required = Array.isArray(s.required) ? (s.required.filter((r) => typeof r === 'string') as string[]) : [];
  const out: Record<string, unknown> = {};
  // Required first, then the rest: callers often only check required ones, but real models fill everything.
  for (const key of [...required, ...Object.keys(props)]) {
    if (key in out) continue;
    out[key] = sample(props[key] ?? {}, ctx, `${path}.${key}`, depth + 1, 0);
  }
  const minProps = typeof s.minProperties === 'number' ? s.minProperties : 0;
  const extra = isSchema(s.additionalProperties) ? s.additionalProperties : {};
  for (let i = 0; Object.keys(out).length < minProps; i++) {
    const key = `${ctx.words[i % ctx.words.length].toLowerCase()}_${i + 1}`;
    if (!(key in out)) out[key] = sample(extra, ctx, `${path}.${key}`, depth + 1, 0);
  }
  return out;
}

function sampleArray(s: Schema, ctx: Ctx, path: string, depth: number): unknown[] {
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
  const rest = Array.isArray(s.items) ? (s.additionalItems ?? {}) : (s.items ?? {});
  const min = typeof s.minItems === 'number' ? s.minItems : 0;
  const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
  // 1..3 items, varied by path; past maxDepth only what minItems demands.
  const wanted = depth > ctx.maxDepth ? 0 : 1 + (fnv1a(path) % 3);
  const count = Math.max(min, Math.min(max, Math.max(wanted, prefix.length && depth <= ctx.maxDepth ? prefix.length : 0)));
  const unique = s.uniqueItems === true;
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const itemSchema = i < prefix.length ? prefix[i] : rest;
    out.push(sample(itemSchema, ctx, `${path}[${i}]`, depth + 1, unique ? i : 0));
  }
  return out;
}

function sampleNumber(s: Schema, integer: boolean, path: string): number {
  const h = fnv1a(path);
  let lo = -Infinity;
  let hi = Infinity;
  let loExclusive = false;
  let hiExclusive = false;
  if (typeof s.minimum === 'number') {
    lo = s.minimum;
    loExclusive = s.exclusiveMinimum === true; // draft-04 style
  }
  if (typeof s.maximum === 'number') {
    hi = s.maximum;
    hiExclusive = s.exclusiveMaximum === true;
  }
  if (typeof s.exclusiveMinimum === 'number' && s.exclusiveMinimum >= lo) [lo, loExclusive] = [s.exclusiveMinimum, true];
  if (typeof s.exclusiveMaximum === 'number' && s.exclusiveMaximum <= hi) [hi, hiExclusive] = [s.exclusiveMaximum, true];
  const step = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : 0;

  const ok = (v: number) => (loExclusive ? v > lo : v >= lo) && (hiExclusive ? v < hi : v <= hi);
  let v = integer ? 1 + (h % 10) : 1 + (h % 100) / 10;
  if (!ok(v)) {
    if (Number.isFinite(lo) && Number.isFinite(hi)) v = (lo + hi) / 2;
    else if (Number.isFinite(lo)) v = lo + (loExclusive ? 1 : 0);
    else v = hi - (hiExclusive ? 1 : 0);
  }
  if (step) {
    const candidates = [Math.round(v / step), Math.floor(v / step), Math.ceil(v / step)].map((k) => k * step);
    const fits = candidates.find(ok) ?? (Number.isFinite(lo) ? (Math.floor(lo / step) + 1) * step : candidates[0]);
    v = Number.isInteger(step) ? fits : Number(fits.toFixed(12));
  }
  return v;
}

function sampleString(s: Schema, ctx: Ctx, path: string): string {
  const h = fnv1a(path);
  const w = ctx.words;
  const word = (i: number) => w[(h + i) % w.length];
  const slug = (word(0).toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '') || 'item').slice(0, 24);
  let text: string;
  switch (s.format) {
    case 'date-time':
      text = '2024-01-01T00:00:00Z';
      break;
    case 'date':
      text = '2024-01-01';
      break;
    case 'time':
      text = '00:00:00Z';
      break;
    case 'email':
      text = `${slug}@example.com`;
      break;
    case 'uri':
    case 'url':
    case 'uri-reference':
    case 'iri':
      text = `https://example.com/${slug}`;
      break;
    case 'uuid': {
      const hex = [h, fnv1a(path, 1), fnv1a(path, 2), fnv1a(path, 3)].map((x) => x.toString(16).padStart(8, '0')).join('');
      text = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      break;
    }
    case 'hostname':
      text = 'example.com';
      break;
    case 'ipv4':
      text = '127.0.0.1';
      break;
    default: {
      const n = 2 + (h % 5);
      text = Array.from({ length: n }, (_, i) => word(i)).join(' ');
    }
  }
  const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
  const maxLength = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  for (let i = 0; text.length < minLength; i++) text += ` ${word(i + 7)}`;
  if (text.length > maxLength) {
    const space = text.lastIndexOf(' ', maxLength);
    text = space >= Math.max(1, minLength) ? text.slice(0, space) : text.slice(0, maxLength);
  }
  return text;
}
