/**
 * What Anthropic's structured outputs and OpenAI's strict mode refuse in a response schema,
 * answered the way they answer it (400, in their words), so an adapter that sends a keyword
 * outside the supported subset fails against the simulator as it would against the provider.
 *
 * Anthropic: no numeric bounds, no string lengths, `minItems` 0 or 1 only, no `maxItems`, and
 * `additionalProperties: false` on every object. OpenAI strict: no string lengths, every
 * property listed in `required`, and `additionalProperties: false` on every object.
 */
type Schema = Record<string, unknown>;

const ANTHROPIC_REFUSED = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems'];
const OPENAI_REFUSED = ['minLength', 'maxLength'];

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why the provider would refuse `schema`, or undefined when it accepts it. `name`: OpenAI's json_schema.name. */
export function strictSchemaProblem(schema: unknown, provider: 'anthropic' | 'openai', name = ''): string | undefined {
  const refuse = (path: string[], what: string) =>
    provider === 'anthropic'
      ? `output_config.format.schema: ${what}`
      : `Invalid schema for response_format '${name}': In context=(${path.map((p) => `'${p}'`).join(', ')}), ${what}`;
  const visit = (node: unknown, path: string[]): string | undefined => {
    if (!isSchema(node)) return undefined;
    const type = typeof node.type === 'string' ? node.type : Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : undefined;
    for (const keyword of provider === 'anthropic' ? ANTHROPIC_REFUSED : OPENAI_REFUSED) {
      if (keyword in node) {
        return provider === 'anthropic'
          ? refuse(path, `For '${type ?? 'any'}' type, property '${keyword}' is not supported`)
          : refuse(path, `'${keyword}' is not permitted.`);
      }
    }
    if (provider === 'anthropic' && typeof node.minItems === 'number' && node.minItems > 1) {
      return refuse(path, `For 'array' type, 'minItems' values other than 0 or 1 are not supported`);
    }
    const properties = isSchema(node.properties) ? node.properties : undefined;
    if (type === 'object' || properties) {
      if (node.additionalProperties !== false) {
        return refuse(path, provider === 'anthropic'
          ? `For 'object' type, 'additionalProperties' must be explicitly set to false`
          : `'additionalProperties' is required to be supplied and to be false.`);
      }
      const required = Array.isArray(node.required) ? node.required : [];
      const missing = provider === 'openai' ? Object.keys(properties ?? {}).find((key) => !required.includes(key)) : undefined;
      if (missing !== undefined) return refuse(path, `'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`);
    }
    const children: [unknown, string[]][] = [
      ...Object.entries(properties ?? {}).map(([key, child]): [unknown, string[]] => [child, [...path, 'properties', key]]),
      [node.items, [...path, 'items']],
      ...(['anyOf', 'allOf', 'oneOf', 'prefixItems'] as const).flatMap((key) =>
        (Array.isArray(node[key]) ? (node[key] as unknown[]) : []).map((child, i): [unknown, string[]] => [child, [...path, key, String(i)]]),
      ),
      ...Object.entries(isSchema(node.$defs) ? node.$defs : {}).map(([key, child]): [unknown, string[]] => [child, [...path, '$defs', key]]),
    ];
    for (const [child, childPath] of children) {
      const problem = visit(child, childPath);
      if (problem) return problem;
    }
    return undefined;
  };
  return visit(schema, []);
}
