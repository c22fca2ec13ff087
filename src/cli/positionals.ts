import { parseArgs } from 'node:util';
import { UsageError } from './temporal-client';

/**
 * The arguments of a command that takes no options: an option (`--json`) is refused as unknown
 * (exit 2), never taken for a name; any count but `count` is a UsageError saying `refusal(them)`.
 */
export function exactPositionals(argv: string[], count: number, refusal: (positionals: string[]) => string): string[] {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== count) throw new UsageError(refusal(positionals));
  return positionals;
}
