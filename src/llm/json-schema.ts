/**
 * JSON Schema validation of structured answers (ajv), used before an answer is cached and on
 * every cache read. Compiled validators are kept per schema, since every call of a purpose
 * sends the same one.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { canonicalJson } from './canonical-json';

// strict: false — provider schemas may carry keywords ajv does not know (e.g. OpenAI's `strict`).
const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

/** The problems found (empty when `value` satisfies `schema`), each with its JSON path. */
export function schemaProblems(value: unknown, schema: Record<string, unknown>): string[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => {
    const where = `$${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
    const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  });
}

/**
 * Why `text` is not a valid answer for `schema`, or undefined when it is: not JSON at all, or
 * JSON that breaks the schema.
 */
export function structuredAnswerProblem(text: string, schema: Record<string, unknown>): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Not the parser's message: it quotes the answer's first words, text of the user's script or
    // news, which this message carries into logs, run rows and reports.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    return `not JSON (${position !== undefined ? `it breaks off at character ${position} of ${text.length}` : `${text.length} characters`})`;
  }
  const problems = schemaProblems(value, schema);
  return problems.length ? `does not match its schema: ${problems.slice(0, 5).join('; ')}` : undefined;
}
