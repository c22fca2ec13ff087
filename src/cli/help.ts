/** The `--help` texts: one per command, and the overview `storyloom --help` prints. */
import { PROMPT_SETTING_LIMITS as LIMITS, SESSION_PRESETS as PRESETS } from '../domain/sessions/settings';
import { MAX_CONCURRENCY } from '../shared/ingestion';
import { SCENE_SEARCH_LIMIT, SCENE_SEARCH_TEXT_MAX, STORY_LIST_LIMIT, STORY_SEARCH_LIMIT } from '../shared/list-limits';
import { MAX_SYNTHESIS_CONCURRENCY } from '../shared/stories';

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
    usage: '<file | script | story> [options]',
    summary: 'import (if a file) and run the ingestion workflow',
    details: `  --partial | --full               partial: only new or changed work; full: everything
                                   (default: partial; --full remakes all, past the cache)
  --wait                           draw a progress bar and print the result
  --concurrency-summaries N        scene summaries in flight (1 to ${MAX_CONCURRENCY}, default 10)
  --concurrency-sheets N           character sheets in flight (1 to ${MAX_CONCURRENCY}, default 5)
  --no-parallel-scene-summaries    one summary at a time, in scene order
  --no-parallel-character-sheets   one sheet at a time
  --no-batch-embeddings            one embeddings request per scene
  --no-parallel-phase2             outline, sheets and embeddings one after another
  --no-cache                       never answer from the LLM response cache
  --script-id ID                   (with a file only) update this script, as import --script-id
  --version N                      (with a generated story only) ingest that version (default: the latest)
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
    usage: '<script | screenplay-…>',
    summary: 'stop a running ingestion, or a screenplay run (what was written stays)',
    details: `Calls in flight are aborted and the run is marked cancelled. Exit 1 when no ingestion of it is running.\nA screenplay run's workflow id (generate prints it) cancels that run: its variants in flight are aborted, versions already saved stay.\n${SCRIPT}`,
  },
  show: { usage: '<script> [--scenes]', summary: "outline, character sheets and the last run's figures; --scenes: each scene's summary first", details: SCRIPT },
  search: {
    usage: '<script> "<text>" [--limit N]',
    summary: 'scenes ranked by embedding similarity',
    details: `  --limit N   how many scenes (1 to ${SCENE_SEARCH_LIMIT.max}, default ${SCENE_SEARCH_LIMIT.default})
The text must not be blank and has at most ${SCENE_SEARCH_TEXT_MAX} characters.
${SCRIPT}`,
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
  play: {
    usage: '[--session ID] [--script <script>] [--title T]',
    summary: 'an interactive story: each line you type is a turn',
    details: `  --session ID       resume a session (its world is kept in Postgres)
  --script <script>  tie a new session to an ingested script (its characters seed the world,
                     semantic_search also searches its scenes)
  --title T          the new session's title (default: the script's, else "Untitled story")
After each reply a dim line says what the turn took (tools, LLM calls, time). Ctrl-C leaves.
Directives for testing against the simulator: [tools: read_state, add_memory!bad] and [rounds: N].`,
  },
  turn: {
    usage: '<session> "<text>" [--json]',
    summary: 'one turn of a session, non-interactively',
    details: `  --json   the turn's result (reply, tool calls, figures) as JSON
Exit codes: 0 answered; 1 the turn failed (the session stays usable); 2 bad usage or input.`,
  },
  sessions: {
    usage: 'list | show <id> | end <id> | configure [options]',
    summary: 'story sessions: list them, show one (world, characters, memories, turns), end one, tune their prompts',
    details: `  sessions list                 sessions, the last played first
  sessions show <id>            world state, characters, relationships, memories, recent turns
  sessions end <id>             end a session (turns already sent are still taken)
  sessions configure            the prompt settings in use and where each comes from
      --max-context-tokens N    the prompt's budget in tokens (${LIMITS.maxContextTokens.min} to ${LIMITS.maxContextTokens.max}; MAX_CONTEXT_TOKENS)
      --max-turn-history N      recent turns carried in full (${LIMITS.maxTurnHistory.min} to ${LIMITS.maxTurnHistory.max}; MAX_TURN_HISTORY)
      --preset NAME             fast (${PRESETS.fast.settings.maxContextTokens} tokens, ${PRESETS.fast.settings.maxTurnHistory} turns), balanced (the environment's values)
                                or thorough (${PRESETS.thorough.settings.maxContextTokens} tokens, ${PRESETS.thorough.settings.maxTurnHistory} turns)
      --reset                   back to the environment's values
    A change is stored in Postgres (as POST /optimization/configure) and applies to every
    session's next model step; a session's background summaries follow it from the session's
    next run. Exit 2 on bad input.`,
  },
  metrics: {
    usage: '[--session ID] [--json] [--reset]',
    summary: 'performance of LLM calls, tools, tool batches and turns (count, avg, p50, p95, ...)',
    details: `  --session ID   only this session's operations
  --json         the response of GET /optimization/performance/metrics
  --reset        start a new measurement window (nothing is deleted)`,
  },
  articles: {
    usage: 'import <file> [--format F] [--map field=column,...]',
    summary: 'store news articles (CSV, JSON Lines, RSS 2.0, Atom)',
    details: `  --format F   csv | jsonl | rss | atom (default: by extension — .csv, .jsonl/.ndjson, .xml/.rss/.atom — else by content)
  --map M      name the columns (CSV) or keys (JSON Lines) of fields: url, id, title, body, topic, published, source;
               e.g. --map title=headline,body=text (default: recognised header names, see README)
Re-importing is idempotent: the same URL (else source id, else content hash) updates one row.
A malformed file (bad CSV quoting, invalid JSON on a line, not a feed, no title or date column,
an article without a title, unparseable dates in more than 5% of articles) is refused whole:
file, line and reason, exit 2, nothing written. Fewer bad dates: those articles are skipped and listed.`,
  },
  stories: {
    usage: '<generate | list | show | search | schedule | status | pause | resume | concurrency | cancel> …',
    summary: 'cluster articles into stories and synthesise them (generateStories workflow)',
    details: `  stories generate [--since 24h | --from T --to T] [--topic T] [--wait] [--batch] [--concurrency N] [--similarity S] [--model P:M]
                   [--no-parallel] [--no-one-transaction] [--no-load-once] [--no-cache]
      starts a run over the scope (widened to whole UTC days, the clustering window); its id comes
      from the scope, so a second start over the same scope is refused (exit 3) with a link to the
      running one. --wait draws a progress bar and prints the result and report. --batch: send the
      uncached syntheses as one provider batch (Anthropic Message Batches or OpenAI Batch, half price, minutes
      to hours); items that fail in the batch are retried as calls. Cancelling the run cancels the batch.
      --similarity S: the cosine similarity an article needs with a cluster to join it (above 0, at
      most 1; default 0.5; higher: more, tighter clusters). --model provider:model: the syntheses'
      model (default STORYLOOM_MODEL_SYNTHESIS); stories made by another model are made again.
  stories list [--all] [--limit N] [--offset K]
                                          current stories, newest first (--all: superseded too; N: 1 to ${STORY_LIST_LIMIT.max}, default ${STORY_LIST_LIMIT.default}; K: skip that many)
  stories show <id>                       headline, summary, key points, time window, articles (a unique id
                                          prefix will do; one several ids start with lists them, exit 2)
  stories search "<text>" [--limit N]     full-text search of headlines, summaries, key points (N: 1 to ${STORY_SEARCH_LIMIT.max}, default ${STORY_SEARCH_LIMIT.default})
  stories schedule --every 1h [--since 24h] [--topic T] [--catchup-window D] [--concurrency N] [--batch] [--similarity S] [--model P:M]
      a Temporal Schedule running generate (overlap: skip; missed runs made up within the catch-up
      window, default the interval, at least 10s); --concurrency, --batch, --similarity and --model as for generate
  stories schedule list | pause <id> | unpause <id> | trigger <id> | delete <id>
  stories status | pause | resume | cancel <workflow id>;  stories concurrency <workflow id> <n> (1 to ${MAX_SYNTHESIS_CONCURRENCY})
Durations: 30m, 24h, 7d. Times: 2026-11-25 or 2026-11-25T08:00Z.`,
  },
  personas: {
    usage: 'import <file> | list | show <name>',
    summary: 'personas for screenplay generation (stored in Postgres)',
    details: `  import <file>   create or update personas from a .json or .yaml file: a list of
                  { name, description, context (or system_prompt), voice_notes? };
                  a bad file is refused whole (entry and field named, exit 2, nothing written)
  list            every persona's name and description
  show <name>     one persona (an unknown name lists the closest ones, exit 2)`,
  },
  generate: {
    usage: '--plot <file> --persona "Name" [--persona …] [options] | --story <id> [options]',
    summary: 'write a screenplay (Fountain) from a plot and personas',
    details: `  --plot FILE          the plot, as plain text (required, but with --story: the story's by default)
  --persona "Name"     a persona to cast (repeat; at least one, but with --story: those of the
                       story's latest run by default; \`storyloom personas list\`)
  --title T            the story's title (default: the plot's first words, or the story's)
  --max-tokens N       output tokens per call (default 3072); a reply cut there is continued
                       (STORYLOOM_SCREENPLAY_MAX_CONTINUATIONS, default 2), else saved marked truncated
  --variants N         N versions generated concurrently (1 to 10, default 1)
  --model P:M          provider:model (default STORYLOOM_MODEL_SCREENPLAY)
  --story ID           a new version of this story, from its plot and personas unless given others
                       (default: a new story)
  --no-cache           never answer from the LLM response cache
  --wait               stream the screenplay to stdout as it is written, then a summary on stderr
                       (tokens, time to first token, total time, cost)
  --ingest             wait, then import the version as a script and run the ingestion on it
Without --wait: the workflow id and its Web UI link. Exit 2 on bad input or an unknown persona.`,
  },
  screenplays: {
    usage: 'list | show <story> [--version N] | export <story> [--version N]',
    summary: 'generated stories: list, a version\'s figures and cast, its Fountain',
    details: `  list                  every story, with its number of versions
  show <story>          a version's model, figures (tokens, time to first token, cost) and cast
  export <story>        a version's Fountain on stdout (> draft.fountain)
  --version N           that version (default: the latest)
A <story> is a story id or title. \`storyloom ingest <story> [--version N]\` runs the ingestion on a version (default: the latest).`,
  },
  worker: { usage: '', summary: 'run a worker until Ctrl-C (logs JSON lines at LOG_LEVEL, default info)' },
  serve: {
    usage: '[--host HOST] [--port PORT]',
    summary: 'run the HTTP API until Ctrl-C (OpenAPI at /openapi.json)',
    details: `  --host HOST   address to listen on (default STORYLOOM_API_HOST, 127.0.0.1); anything but
                loopback needs STORYLOOM_API_TOKENS
  --port PORT   port (default STORYLOOM_API_PORT, 7880; 0: any free port)
Requests to /api and /optimization need "Authorization: Bearer <token>" when STORYLOOM_API_TOKENS is set.`,
  },
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
