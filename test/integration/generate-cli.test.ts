/**
 * `storyloom generate`, `screenplays` and `ingest <story>` in-process against the test
 * database, a dev server and the simulator: the screenplay streams to stdout while it is
 * written, bad input exits 2 with nothing started, and export → ingest round-trips.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkFountain } from '../../src/domain/generation/fountain-check';
import { parseScreenplay } from '../../src/domain/screenplay';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { CREW, importCrew } from '../helpers/personas';
import { FIXTURES } from '../helpers/scripts';

const stack = useTestStack('generate-cli', { simulator: { latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 1 } } } } });
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-generate-'));
const PLOT = path.join(FIXTURES, 'plots/harbour.txt');
let restoreEnv: () => void;

beforeAll(async () => {
  await importCrew(stack.app.services.db);
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restoreEnv?.());

/** runCli, also capturing stdout writes with the time of each. */
async function cli(...argv: string[]) {
  const writes: { text: string; at: number }[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push({ text: String(chunk), at: Date.now() }), true));
  try {
    const result = await runCli(...argv);
    return { ...result, stdout: writes.map((w) => w.text).join(''), writes, endedAt: Date.now() };
  } finally {
    spy.mockRestore();
  }
}

const storyOf = (err: string) => /\(story ([0-9a-f-]{36})\)/.exec(err)![1];

it('generate --wait streams the screenplay to stdout as it is written, then a one-line summary', async () => {
  const r = await cli('generate', '--plot', PLOT, ...CREW.flatMap((p) => ['--persona', p]), '--title', 'Harbour Lights', '--wait', '--no-cache');
  expect(r.code).toBe(0);
  expect(checkFountain(r.stdout)).toMatchObject({ ok: true });
  // Many writes, the first well before the command ended.
  expect(r.writes.length).toBeGreaterThan(5);
  expect(r.writes[0].at).toBeLessThan(r.endedAt - 300);
  expect(r.err).toMatch(/✓ "Harbour Lights" v1 \(story [0-9a-f-]{36}\): [\d,]+ tokens, first token at the CLI \d+\.\d s, \d+\.\d s total, \$\d+\.\d{4}/);
  const story = storyOf(r.err);

  const list = await cli('screenplays', 'list');
  expect(list.out).toContain(`${story}  Harbour Lights  (1 version`);
  const show = await cli('screenplays', 'show', 'Harbour Lights');
  expect(show.code).toBe(0);
  expect(show.out).toContain('version 1 of 1');
  expect(show.out).toContain('MARA QUILL (Mara Quill)');
  const exported = await cli('screenplays', 'export', story, '--version', '1');
  expect(exported.stdout.trimEnd()).toBe(r.stdout.trimEnd());
});

it('generate without --wait prints the workflow id and its Web UI link', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Juno Park');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Started screenplay generation screenplay-[0-9a-f-]{36}/);
  expect(r.out).toContain('Web UI: http');
});

it.each([
  [['--persona', 'Juno Park'], '--plot <file> is required'],
  [['--plot', PLOT], 'give at least one --persona'],
  [['--plot', path.join(dir, 'missing.txt'), '--persona', 'Juno Park'], 'file not found'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--variants', '11'], '--variants must be an integer from 1 to 10'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--max-tokens', 'lots'], '--max-tokens must be an integer'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--model', 'mistral:big'], '--model must look like <provider>:<model>'],
  [['--plot', PLOT, '--persona', 'Juno Park', '--story', 'no-such-story'], 'No story "no-such-story"'],
])('generate %j refuses with exit 2: %s', async (args, message) => {
  const r = await cli('generate', ...args);
  expect(r.code).toBe(2);
  expect(r.err).toContain(message);
});

it('generate --wait with an unknown persona exits 2 naming the closest', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Juno Parks', '--wait');
  expect(r.code).toBe(2);
  expect(r.err).toContain('no persona "Juno Parks" (closest: "Juno Park")');
});

it('export → ingest round trip: the exported Fountain imports, and `ingest <story>` ingests the version', async () => {
  const made = await cli('generate', '--plot', PLOT, '--persona', 'Mara Quill', '--persona', 'Old Harlan', '--title', 'Round Trip', '--wait');
  expect(made.code).toBe(0);
  const story = storyOf(made.err);
  const exported = await cli('screenplays', 'export', story);
  const file = path.join(dir, 'draft.fountain');
  writeFileSync(file, exported.stdout);
  const parsed = parseScreenplay(Buffer.from(exported.stdout), 'draft.fountain');
  expect(parsed.characters).toEqual(expect.arrayContaining(['MARA QUILL', 'OLD HARLAN']));

  const ingested = await cli('ingest', story, '--wait');
  expect(ingested.code).toBe(0);
  expect(ingested.out).toContain('Imported version 1 of the story as script "Round Trip (v1)"');
  expect(ingested.out).toContain(`summaries   ${parsed.scenes.length} made`);
  const show = await cli('screenplays', 'show', story);
  expect(show.out).toMatch(/ingested as script [0-9a-f-]{36}/);

  // The exported file imports as a script of its own, with the same scenes.
  const imported = await cli('import', file, '--title', 'Round Trip file');
  expect(imported.out).toContain(`scenes: ${parsed.scenes.length}`);
});

it('generate --ingest generates, then ingests the new version', async () => {
  const r = await cli('generate', '--plot', PLOT, '--persona', 'Ines Calder', '--title', 'Ingested Draft', '--ingest');
  expect(r.code).toBe(0);
  expect(r.err).toContain('as script "Ingested Draft (v1)"');
  expect(r.out).toMatch(/Ingestion completed/);
});
