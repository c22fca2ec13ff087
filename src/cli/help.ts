/** The `--help` texts: one per command, and the overview `storyloom --help` prints. */
import { MAX_CONCURRENCY } from '../shared/ingestion';

interface CommandHelp {
  /** The arguments after the command's name. */
  usage: string;
  /** One line for the overview. */
  summary: string;
  /** Options and notes, printed by `storyloom <command> --help`. */
  details?: string;
}

const SCRIPT = 'A <script> is a script id or title.';

export const COMMAND_HELP: Record<string, CommandHelp> = {
  import: {
    usage: '<file> [--script-id ID] [--title TITLE]',
    summary: 'store a screenplay (Fountain or Final Draft .fdx)',
    details: `  --script-id ID   update this script (default: the script with the file's title, else a new one)
  --title TITLE    the script's title (default: the title page's, else the file name)`,
  },
  ingest: {
    usage: '<file | script> [options]',
    summary: 'import (if a file) and run the ingestion workflow',
    details: `  --partial | --full               partial: only new or changed work; full: everything
                                   (default: full on a script's first ingestion, else partial)
  --wait                           draw a progress bar and print the result
  --concurrency-summaries N        scene summaries in flight (1 to ${MAX_CONCURRENCY}, default 10)
  --concurrency-sheets N           character sheets in flight (1 to ${MAX_CONCURRENCY}, default 5)
  --no-parallel-scene-summaries    one summary at a time, in scene order
  --no-parallel-character-sheets   one sheet at a time
  --no-batch-embeddings            one embeddings request per scene
  --no-parallel-phase2             outline, sheets and embeddings one after another
  --no-cache                       never answer from the LLM response cache
  --script-id ID                   (with a file) update this script
Exit codes: 0 started (or, with --wait, completed); 1 failed or cancelled; 2 bad usage; 3 already running.
${SCRIPT}`,
  },
  status: { usage: '<script>', summary: 'progress of a running ingestion, else the last run', details: SCRIPT },
  pause: {
    usage: '<script>',
    summary: 'stop starting LLM calls (calls in flight finish)',
    details: `Prints the run's state after the change. Exit 1 when no ingestion of it is running.\n${SCRIPT}`,
  },
  resume: {
    usage: '<script>',
    summary: 'start LLM calls again after pause',
    details: `Prints the run's state after the change. Exit 1 when no ingestion of it is running.\n${SCRIPT}`,
  },
  concurrency: {
    usage: '<script> [--summaries N] [--sheets M]',
    summary: 'change how many calls a running ingestion keeps in flight',
    details: `  --summaries N   scene summaries in flight (1 to ${MAX_CONCURRENCY})
  --sheets M      character sheets in flight (1 to ${MAX_CONCURRENCY})
Give one or both. Prints the run's state after the change; a value the run refuses is reported
with its reason (exit 2). Exit 1 when no ingestion of it is running.
${SCRIPT}`,
  },
  cancel: {
    usage: '<script>',
    summary: 'stop a running ingestion (what was written stays)',
    details: SCRIPT,
  },
  show: { usage: '<script>', summary: "outline, character sheets and the last run's figures", details: SCRIPT },
  search: {
    usage: '<script> "<text>" [--limit N]',
    summary: 'scenes ranked by embedding similarity',
    details: `  --limit N   how many scenes (default 5)\n${SCRIPT}`,
  },
  report: {
    usage: '<script | workflowId> [--json]',
    summary: "the last run's report: time, critical path, calls, cost, DB, history",
    details: `  --json   the report as JSON\n${SCRIPT}`,
  },
  smoke: {
    usage: '[--prompt TEXT] [--no-cache]',
    summary: 'one LLM call through the provider layer, stored',
    details: `  --prompt TEXT   what to ask (default: a one-line story pitch)
  --no-cache      call the provider even when the answer is cached`,
  },
  worker: { usage: '', summary: 'run a worker until Ctrl-C (logs JSON lines at LOG_LEVEL, default info)' },
  migrate: { usage: '', summary: 'create the database if needed and apply migrations' },
  'codec-server': {
    usage: '[--port N] [--host H]',
    summary: 'decrypt payloads for the Web UI and `temporal --codec-endpoint` (Ctrl-C stops)',
    details: `  --port N   where to listen (default STORYLOOM_CODEC_PORT, 8888)
  --host H   interface (default STORYLOOM_CODEC_HOST, 127.0.0.1)
Needs STORYLOOM_PAYLOAD_KEYS; requires "Authorization: Bearer <STORYLOOM_CODEC_TOKEN>" when that is set;
CORS allows STORYLOOM_CODEC_CORS_ORIGINS (default: TEMPORAL_UI_URL's origin).`,
  },
  help: { usage: '[command]', summary: 'this overview, or one command’s options' },
};

export function commandHelp(name: string): string {
  const help = COMMAND_HELP[name];
  return [`usage: storyloom ${name}${help.usage ? ` ${help.usage}` : ''}`, '', help.summary, ...(help.details ? ['', help.details] : [])].join('\n');
}

export function overviewHelp(): string {
  const rows = Object.entries(COMMAND_HELP).map(([name, h]) => `  ${`${name} ${h.usage}`.padEnd(50)} ${h.summary}`);
  return `storyloom — durable AI pipelines for stories and scripts

Usage: storyloom <command> [options]      storyloom <command> --help for a command's options

Commands:
${rows.join('\n')}

A <script> is a script id or title. Configuration comes from the environment (.env.example);
commands print results on stdout and log JSON lines on stderr only at LOG_LEVEL (default warn).`;
}

/** True when the arguments ask for help (`--help` or `-h` before a `--`). */
export function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
