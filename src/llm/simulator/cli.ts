#!/usr/bin/env node
/**
 * Standalone simulator:
 *   node dist/llm/simulator/cli.js [--port 7800] [--host 127.0.0.1] [--time-scale 0.1] [--config file.json]
 * Flags override the SIM_PORT and SIM_TIME_SCALE environment variables. Runs until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { listenRefusalMessage, type ListenSettings } from '../../shared/listen-refusal';
import { startSimulator } from './index';
import type { DeepPartial, SimulatorConfig } from './types';

const USAGE =
  'usage: storyloom-sim [--port N] [--host ADDR] [--time-scale X] [--jitter SIGMA] [--config FILE.json]\n' +
  '  --port        TCP port (flag > $SIM_PORT > 7800; 0 picks a free one)\n' +
  '  --host        bind address (default 127.0.0.1)\n' +
  '  --time-scale  multiplies every simulated latency (flag > $SIM_TIME_SCALE > config file > 1)\n' +
  '  --jitter      σ of each request\'s log-normal latency around the configured mean (0 = constant; 0.27: p95 ≈ 1.5 × mean)\n' +
  '  --config      JSON file with a partial SimulatorConfig';

const SIM_LISTEN_SETTINGS: ListenSettings = { command: 'storyloom-sim', port: '--port or SIM_PORT', host: '--host' };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  port: number;
  host: string;
  timeScale?: number;
  jitter?: number;
  configFile?: string;
}

function parsePort(value: string, from: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${from} must be a port number 0-65535 (got "${value}")`);
  return n;
}

function parseTimeScale(value: string, from: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${from} must be a number >= 0 (got "${value}")`);
  return n;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): CliOptions | 'help' {
  const opts: CliOptions = { port: 7800, host: '127.0.0.1' };
  if (env.SIM_PORT) opts.port = parsePort(env.SIM_PORT, 'SIM_PORT');
  if (env.SIM_TIME_SCALE) opts.timeScale = parseTimeScale(env.SIM_TIME_SCALE, 'SIM_TIME_SCALE');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    // Accept both `--flag value` and `--flag=value`.
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--port':
        opts.port = parsePort(value(), '--port');
        break;
      case '--host':
        opts.host = value();
        break;
      case '--time-scale':
        opts.timeScale = parseTimeScale(value(), '--time-scale');
        break;
      case '--jitter':
        opts.jitter = parseTimeScale(value(), '--jitter');
        break;
      case '--config':
        opts.configFile = value();
        break;
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  return opts;
}

function readConfig(file: string): DeepPartial<SimulatorConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as DeepPartial<SimulatorConfig>;
  } catch (err) {
    throw new UsageError(`--config ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function main(): Promise<void> {
  let opts: CliOptions | 'help';
  let config: DeepPartial<SimulatorConfig> = {};
  try {
    opts = parseArgs(process.argv.slice(2), process.env);
    if (opts === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (opts.configFile) config = readConfig(opts.configFile);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`storyloom-sim: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts.timeScale !== undefined) config = { ...config, timeScale: opts.timeScale };
  if (opts.jitter !== undefined) config = { ...config, jitter: opts.jitter };

  let sim;
  try {
    sim = await startSimulator(config, { port: opts.port, host: opts.host });
  } catch (err) {
    // A port another process holds (or an address this host lacks) is a setting, as for `storyloom serve`: exit 2, naming it.
    const refusal = listenRefusalMessage(err, opts.host, opts.port, SIM_LISTEN_SETTINGS);
    const e = err as NodeJS.ErrnoException;
    const isSetting = refusal !== undefined || e.name === 'ConfigError';
    process.stderr.write(`storyloom-sim: ${refusal ?? `${e.name === 'ConfigError' ? 'invalid config: ' : ''}${e.message}`}\n`);
    process.exit(isSetting ? 2 : 1);
  }
  process.stdout.write(`storyloom LLM simulator listening on ${sim.url} (time scale ${sim.config().timeScale})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`storyloom-sim: error while closing on ${signal}: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`storyloom-sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
