/**
 * bench/results/latest.md as one section per scenario: a run replaces the sections of the
 * scenarios it ran and keeps the others, so `--only S2` never overwrites S1's table. Each
 * section carries its own command, machine and load average.
 */
const START = (name: string) => `<!-- bench:${name} -->`;
const END = (name: string) => `<!-- /bench:${name} -->`;
const SECTION = /<!-- bench:([A-Za-z0-9_.-]+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g;

export const LATEST_INTRO =
  '# storyloom bench: latest figures\n\n' +
  'One section per scenario, each from its own `npm run bench` run (command, machine and load average in its header); ' +
  'a run replaces only the sections of the scenarios it ran. See bench/README.md for what each column means.\n';

/** The sections found in an existing latest.md, by scenario name. */
export function parseSections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of markdown.matchAll(SECTION)) out.set(m[1], m[2]);
  return out;
}

/** `existing` with `sections` replaced or added, sorted by name (S1, S2, …, S10 after S9). */
export function mergeLatest(existing: string, sections: Map<string, string>): string {
  const all = parseSections(existing);
  for (const [name, body] of sections) all.set(name, body.endsWith('\n') ? body : `${body}\n`);
  const names = [...all.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return [LATEST_INTRO, ...names.map((n) => `${START(n)}\n${all.get(n)}${END(n)}\n`)].join('\n');
}
