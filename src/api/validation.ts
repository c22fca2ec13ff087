/**
 * The API's schema validation (Fastify's documented pattern for coercion per request part): a
 * JSON body is validated as sent, so a value of the wrong type is a 400 and never converted
 * (`"5"` is not 5, `null` is not `false`, a string is not a one-item list), while query strings,
 * path parameters and headers, which are text, have their numbers and booleans read from it.
 * Unknown fields are refused, not silently dropped; defaults in the schemas are filled in.
 */
import Ajv, { type Options } from 'ajv';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

// allErrors stays false: with it, a crafted body can make validation do much more work.
const COMMON: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };
const jsonBody = new Ajv({ ...COMMON, coerceTypes: false });
const textParts = new Ajv({ ...COMMON, coerceTypes: 'array' });

/** An integer as the CLI takes it: digits (a leading minus), not `0x2`, `1e1`, `2.0`, `+1` or blank, which Number() reads. */
const DIGITS = /^-?\d+$/;

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (httpPart === 'body') return jsonBody.compile(schema as object);
  const validate = textParts.compile(schema as object);
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const integers = Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
  if (!integers.length) return validate;
  const checked = Object.assign((data: unknown): boolean => {
    const values = (data ?? {}) as Record<string, unknown>;
    const loose = integers.find((name) => typeof values[name] === 'string' && !DIGITS.test(values[name] as string));
    if (loose !== undefined) {
      checked.errors = [{ instancePath: `/${loose}`, schemaPath: '', keyword: 'type', params: { type: 'integer' }, message: 'must be a whole number written in digits' }];
      return false;
    }
    const ok = validate(data);
    checked.errors = validate.errors as FastifySchemaValidationError[] | null | undefined;
    return ok;
  }, { errors: null as FastifySchemaValidationError[] | null | undefined });
  return checked;
};
