/**
 * The prompt of one turn, within a token budget: the world summary (state and characters),
 * the last `maxTurnHistory` turns in full, the turns before them as the story so far (an LLM's
 * summary, made once per range: `buildSummaryPrompt`), any older turn no summary covers yet as
 * a one-line extract (never dropped silently: what does not fit is counted), and the player's
 * input. Memories reach the model through its own tool calls (search_memories,
 * semantic_search) in the turn's exchange.
 */

export interface ContextTurn {
  turnNumber: number;
  input: string;
  reply: string;
}

export interface PromptInput {
  title: string;
  world: Record<string, unknown>;
  characters: string[];
  /** Completed turns, oldest first (the repository loads a bounded number; `olderTurns` counts the rest). */
  turns: ContextTurn[];
  /** Completed turns before `turns` that were not loaded. */
  olderTurns: number;
  maxTurnHistory: number;
  maxContextTokens: number;
  input: string;
  /** The LLM's summary of turns 1 to `throughTurn` (session_summaries), when there is one. */
  summary?: { throughTurn: number; text: string };
}

export interface SessionPrompt {
  system: string;
  messages: { role: 'user' | 'assistant'; content: string }[];
  /** Turns carried in full, summarised, and only counted. */
  fullTurns: number;
  summarisedTurns: number;
  omittedTurns: number;
  /** The last turn the LLM summary covers (0: no summary in the prompt). */
  summaryThroughTurn: number;
  estimatedTokens: number;
}

/** About four characters per token (the simulator's estimate too). */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

const clip = (text: string, chars: number) => (text.length <= chars ? text : `${text.slice(0, Math.max(0, chars - 1))}…`);
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

export function buildSessionPrompt(p: PromptInput): SessionPrompt {
  const budget = p.maxContextTokens;
  const worldJson = clip(JSON.stringify(p.world), Math.floor(budget * 4 * 0.3));
  const characters = clip(p.characters.join(', ') || 'none yet', Math.floor(budget * 4 * 0.1));
  const head = [
    `You are the storyteller of the interactive story "${p.title}".`,
    'Before you answer, use the tools to read what you need (world state, memories, relationships); record what changes with the write tools. Then answer in a few vivid sentences.',
    `World state: ${worldJson}`,
    `Characters: ${characters}`,
  ].join('\n');
  let used = estimateTokens(head) + estimateTokens(p.input);

  const recent = p.maxTurnHistory > 0 ? p.turns.slice(-p.maxTurnHistory) : [];
  const messages: SessionPrompt['messages'] = [];
  let fullTurns = 0;
  for (let i = recent.length - 1; i >= 0; i--) {
    const t = recent[i];
    const cost = estimateTokens(t.input) + estimateTokens(t.reply);
    if (used + cost > budget) break;
    used += cost;
    messages.unshift({ role: 'user', content: t.input }, { role: 'assistant', content: t.reply });
    fullTurns++;
  }
  // Turns the summary covers are told by it, not line by line.
  const through = p.summary?.throughTurn ?? 0;
  let summaryLine: string | undefined;
  if (p.summary) {
    summaryLine = `The story so far (turns 1-${through}): ${clip(oneLine(p.summary.text), Math.floor(budget * 4 * 0.25))}`;
    used += estimateTokens(summaryLine);
  }
  const older = p.turns.slice(0, p.turns.length - fullTurns);
  const uncovered = older.filter((t) => t.turnNumber > through);
  const coveredLoaded = older.length - uncovered.length;
  const firstLoaded = p.turns[0]?.turnNumber ?? Number.POSITIVE_INFINITY;
  const notLoadedUncovered = p.summary && through >= firstLoaded - 1 ? 0 : p.olderTurns;
  const lines: string[] = [];
  for (let i = uncovered.length - 1; i >= 0; i--) {
    const t = uncovered[i];
    const line = `Turn ${t.turnNumber}: the player: "${clip(oneLine(t.input), 80)}" → ${clip(oneLine(t.reply), 100)}`;
    if (used + estimateTokens(line) > budget) break;
    used += estimateTokens(line);
    lines.unshift(line);
  }
  const omittedTurns = notLoadedUncovered + uncovered.length - lines.length;
  const earlier = [
    ...(summaryLine ? [summaryLine] : []),
    ...(omittedTurns > 0 ? [`(${omittedTurns} earlier turn${omittedTurns === 1 ? '' : 's'} not shown; search the memories for them.)`] : []),
    ...lines,
  ];
  const system = earlier.length ? `${head}\nEarlier in the story:\n${earlier.join('\n')}` : head;
  messages.push({ role: 'user', content: p.input });
  return {
    system, messages, fullTurns, summarisedTurns: lines.length + (p.summary ? coveredLoaded + (p.olderTurns - notLoadedUncovered) : 0), omittedTurns,
    summaryThroughTurn: through, estimatedTokens: used,
  };
}

/** What the summariser is asked: the previous summary (if any) and the turns after it, folded into one. */
export function buildSummaryPrompt(p: { title: string; previous?: { throughTurn: number; text: string }; turns: ContextTurn[]; maxTokens: number }): { system: string; user: string } {
  const system = [
    `You keep the running summary of the interactive story "${p.title}".`,
    `Fold the turns below into the story so far: who did what, where, what changed, what is unresolved. Plain prose, at most ${p.maxTokens} tokens, no lists.`,
  ].join('\n');
  const turns = p.turns.map((t) => `Turn ${t.turnNumber}. The player: ${oneLine(t.input)}\nThe storyteller: ${oneLine(t.reply)}`);
  const user = [
    p.previous ? `The story so far (turns 1-${p.previous.throughTurn}): ${p.previous.text}` : 'The story so far: it has just begun.',
    '',
    ...turns,
  ].join('\n');
  return { system, user };
}
