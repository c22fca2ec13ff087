/**
 * The screenplay prompt: a system prompt with the output format, and a user message with the
 * title, the plot and each persona's context — trimmed to a token budget when they exceed it.
 * Pure (counting is passed in).
 */
import type { CountTokens } from '../tokens';

/** Bumped whenever the wording below changes (cached answers to the old prompt are not reused). */
export const SCREENPLAY_PROMPT_VERSION = 'screenplay-v1';

export const SCREENPLAY_SYSTEM = [
  'You are a screenwriter. Write a complete screenplay in Fountain format (https://fountain.io/syntax) and nothing else:',
  '- a title page ("Title: …"), then scenes, each starting with a scene heading on its own line such as "INT. HARBOUR OFFICE - NIGHT";',
  '- action lines in the present tense; dialogue as a CHARACTER NAME cue in capitals on its own line, then the line of dialogue;',
  '- one character for each persona given, named exactly as the persona (in capitals in cues), speaking in the persona\'s voice;',
  '- no commentary, no markdown, no code fences.',
].join('\n');

export const CONTINUE_PROMPT = 'Continue the screenplay exactly where you stopped, in the same Fountain format. Do not repeat anything already written.';

export function parseRetryPrompt(prompt: string, problem: string): string {
  return `${prompt}\n\nYour previous reply could not be used: ${problem}\nReply with the whole screenplay in Fountain, every scene starting with a scene heading such as "INT. PLACE - DAY".`;
}

export interface PersonaContext {
  name: string;
  description: string;
  context: string;
  voiceNotes: string[];
}

export function personaBlock(p: PersonaContext, context = p.context): string {
  const voice = p.voiceNotes.length ? `\nVoice: ${p.voiceNotes.join('; ')}` : '';
  return `## ${p.name}\n${p.description}\n${context}${voice}`;
}

export function userPrompt(title: string, plot: string, blocks: string[]): string {
  return `TITLE: ${title}\n\nPLOT:\n${plot.trim()}\n\nPERSONAS (one character for each, named exactly as given):\n\n${blocks.join('\n\n')}\n`;
}

/**
 * Each persona's share of `budget`: all of its tokens when that is under an equal share, and
 * what the smaller ones leave split equally among the larger ones (water-filling).
 */
export function shareBudget(tokens: number[], budget: number): number[] {
  const shares = tokens.map(() => 0);
  let left = budget;
  let open = tokens.map((_, i) => i).sort((a, b) => tokens[a] - tokens[b]);
  while (open.length) {
    const equal = Math.floor(left / open.length);
    const fits = open.filter((i) => tokens[i] <= equal);
    if (!fits.length) {
      for (const i of open) shares[i] = equal;
      break;
    }
    for (const i of fits) {
      shares[i] = tokens[i];
      left -= tokens[i];
    }
    open = open.filter((i) => !fits.includes(i));
  }
  return shares;
}

export interface TrimmedPersona {
  name: string;
  tokens: number;
  keptTokens: number;
}

/** Cuts `text` at a word boundary so that `count(text) <= maxTokens` (marked with an ellipsis). */
export function trimToTokens(text: string, maxTokens: number, count: CountTokens): string {
  if (count(text) <= maxTokens) return text;
  // Less room than the ellipsis itself takes (a zero budget): nothing fits.
  if (count(' …') > maxTokens) return '';
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(`${text.slice(0, mid)} …`) <= maxTokens) lo = mid;
    else hi = mid - 1;
  }
  const cut = text.slice(0, lo);
  // A cut that ends a word (the next character is a space) keeps that word.
  if (/^\s/.test(text.slice(lo))) return `${cut.trimEnd()} …`;
  const space = cut.lastIndexOf(' ');
  return `${(space > lo / 2 ? cut.slice(0, space) : cut).trimEnd()} …`;
}

/**
 * Persona blocks within `budget` tokens: unchanged when they fit together, else each context
 * trimmed to its share (the name, description and voice notes are kept whole).
 */
export function personaBlocksWithin(
  personas: PersonaContext[],
  budget: number,
  count: CountTokens,
): { blocks: string[]; tokens: number; trimmed: TrimmedPersona[] } {
  const blocks = personas.map((p) => personaBlock(p));
  const tokens = blocks.map(count);
  const total = tokens.reduce((a, b) => a + b, 0);
  if (total <= budget) return { blocks, tokens: total, trimmed: [] };
  const shares = shareBudget(tokens, budget);
  const trimmed: TrimmedPersona[] = [];
  const out = personas.map((p, i) => {
    if (tokens[i] <= shares[i]) return blocks[i];
    const frame = count(personaBlock(p, ''));
    const block = personaBlock(p, trimToTokens(p.context, Math.max(0, shares[i] - frame), count));
    trimmed.push({ name: p.name, tokens: tokens[i], keptTokens: count(block) });
    return block;
  });
  return { blocks: out, tokens: out.map(count).reduce((a, b) => a + b, 0), trimmed };
}
