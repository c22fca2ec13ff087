import { parseArgs } from 'node:util';
import type { CliContext } from './context';
import { intOption } from './int-option';
import { UsageError } from './temporal-client';

/** `serve [--host H] [--port P]`: the HTTP API until Ctrl-C. */
export async function serveCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { host: { type: 'string' }, port: { type: 'string' } } });
  if (positionals.length) throw new UsageError('usage: storyloom serve [--host HOST] [--port PORT]');
  const port = intOption('--port', values.port, ctx.config.api.port, 0, 65535);
  const { runApiProcess } = await import('../api/serve');
  // A refusal names the setting the user gave: --host, or STORYLOOM_API_HOST.
  await runApiProcess({ ...ctx.config, api: { ...ctx.config.api, host: values.host ?? ctx.config.api.host, port } }, values.host === undefined ? 'STORYLOOM_API_HOST' : '--host');
  return 0;
}
