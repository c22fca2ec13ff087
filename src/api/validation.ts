/**
 * The API's schema validation (Fastify's documented pattern for coercion per request part): a
 * JSON body is validated as sent, so a value of the wrong type is a 400 and never converted
 * (`"5"` is not 5, `null` is not `false`, a string is not a one-item list), while query strings,
 * path parameters and headers, which are text, have their numbers and booleans read from it.
 * Unknown fields are refused, not silently dropped; defaults in the schemas are filled in.
 */
import Ajv, { type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

// allErrors stays false: with it, a crafted body can make validation do much more work.
const COMMON: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };
const jsonBody = new Ajv({ ...COMMON, coerceTypes: false });
const textParts = new Ajv({ ...COMMON, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? jsonBody : textParts).compile(schema as object);
