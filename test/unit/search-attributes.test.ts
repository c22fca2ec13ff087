/**
 * storyloom's search attributes are defined once (src/shared/search-attributes.ts); the CLI's hint
 * for a server without them and every deploy setup must name each one with its type.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { STORYLOOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { failureMessage, missingSearchAttributesHint } from '../../src/starter';

const CLI_TYPES: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int' };
const read = (file: string) => readFileSync(path.join(__dirname, '../..', file), 'utf8');

it('defines the attributes the workflows set, each with a type the deploy setups know', () => {
  expect(STORYLOOM_SEARCH_ATTRIBUTES.map((k) => k.name)).toEqual(expect.arrayContaining(['StoryloomJob', 'StoryloomTitle', 'StoryloomStatus', 'StoryloomTurns']));
  for (const key of STORYLOOM_SEARCH_ATTRIBUTES) expect(CLI_TYPES[key.type]).toBeDefined();
});

it.each(STORYLOOM_SEARCH_ATTRIBUTES.map((k) => [k.name, k.type]))('the missing-attribute hint registers %s (%s)', (name, type) => {
  expect(missingSearchAttributesHint()).toContain(`temporal operator search-attribute create --name ${name} --type ${CLI_TYPES[type]}`);
});

it('gives the hint when the server refuses an unknown search attribute', () => {
  const err = new Error('Failed to start workflow', { cause: new Error('INVALID_ARGUMENT: no mapping defined for search attribute StoryloomTurns') });
  const message = failureMessage(err);
  expect(message).toContain('no mapping defined for search attribute StoryloomTurns');
  for (const key of STORYLOOM_SEARCH_ATTRIBUTES) expect(message).toContain(`--name ${key.name} `);
  expect(failureMessage(new Error('boom'))).toBe('boom');
});

it.each(STORYLOOM_SEARCH_ATTRIBUTES.map((k) => [k.name, k.type]))('scripts/temporal.sh and docker-compose.yml register %s (%s)', (name, type) => {
  expect(read('scripts/temporal.sh')).toContain(`${name}=${CLI_TYPES[type]}`);
  expect(read('docker-compose.yml')).toContain(`${name}=${CLI_TYPES[type]}`);
});

it("README's deploy notes name every attribute", () => {
  const line = /Register the\s+search attributes (.*?) in the namespace/s.exec(read('README.md'));
  expect(line).not.toBeNull();
  for (const key of STORYLOOM_SEARCH_ATTRIBUTES) expect(line![1]).toContain(`\`${key.name}\``);
});
