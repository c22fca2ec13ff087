/** The settings every dev server gets: the shell script's copy stays in step with the TypeScript one. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dynamicConfigArgs, DEV_SERVER_DYNAMIC_CONFIG } from '../../src/shared/temporal-server-settings';

it('gives scripts/temporal.sh the same dynamic config as the bench, chaos and test servers', () => {
  const script = readFileSync(path.join(__dirname, '../../scripts/temporal.sh'), 'utf8');
  const line = /^DYNAMIC_CONFIG=\((.*)\)$/m.exec(script);
  expect(line).not.toBeNull();
  const value = (v: string) => (v === 'true' || v === 'false' ? v === 'true' : Number(v));
  const inScript = Object.fromEntries(line![1].split(/\s+/).map((kv) => kv.split('=')).map(([k, v]) => [k, value(v)]));
  expect(inScript).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
});

it('passes each setting as one --dynamic-config-value argument', () => {
  expect(dynamicConfigArgs({ 'history.transferProcessorMaxPollRPS': 200 })).toEqual(['--dynamic-config-value', 'history.transferProcessorMaxPollRPS=200']);
});
