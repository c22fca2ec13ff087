/**
 * A script whose ingestion is running is not re-imported under it: `import` refuses (exit 2) and
 * `ingest <file>` refuses before importing (exit 3, like a second ingestion), both naming the
 * running workflow and writing nothing. The run is real (worker, simulator), held by a pause.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { startTestApi } from '../helpers/api';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { FIXTURES } from '../helpers/scripts';

const stack = useTestStack('import-during-run');
let restoreEnv: () => void;
const dir = mkdtempSync(path.join(tmpdir(), 'storyloom-import-run-'));
const ferry = readFileSync(path.join(FIXTURES, 'fountain/night-ferry.fountain'), 'utf8');
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

beforeAll(() => {
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restoreEnv?.());

/** Everything an import writes for the script: the script row, its scenes, characters and who speaks where. */
async function storedScript(scriptId: string): Promise<unknown> {
  const [row] = await stack.app.services.db.query(
    `SELECT s.title, s.source_name, s.updated_at,
            (SELECT json_agg(json_build_object('id', id, 'position', position, 'heading', heading, 'text', text, 'hash', content_hash, 'updated', updated_at) ORDER BY position)
               FROM scenes WHERE script_id = s.id) AS scenes,
            (SELECT json_agg(json_build_object('id', id, 'name', name) ORDER BY id) FROM characters WHERE script_id = s.id) AS characters,
            (SELECT json_agg(json_build_object('scene', sc.scene_id, 'character', sc.character_id) ORDER BY sc.scene_id, sc.character_id)
               FROM scene_characters sc JOIN scenes x ON x.id = sc.scene_id WHERE x.script_id = s.id) AS links
       FROM scripts s WHERE s.id = $1`,
    [scriptId],
  );
  return row;
}

describe('while the script is being ingested', () => {
  const title = `Ferry during a run ${Date.now()}`;
  const original = file('ferry.fountain', ferry);
  // Scene 2 edited, a scene added: an import would change and add rows.
  const edited = file('ferry-edited.fountain', ferry.replace('Fog rolls over the ramp.', 'Sleet rolls over the ramp.') + '\nINT. ENGINE ROOM - NIGHT\n\nThe engines stop.\n');
  let scriptId: string;
  let workflowId: string;
  let runId: string;

  beforeAll(async () => {
    const imported = await runCli('import', original, '--title', title);
    expect(imported.code).toBe(0);
    scriptId = /script id: (\S+)/.exec(imported.out)![1];
    workflowId = ingestionWorkflowId(scriptId);
    // One slow summary at a time, paused at once: the run stays running, mid-summaries, until resumed.
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 1000 } } } });
    expect((await runCli('ingest', scriptId, '--concurrency-summaries', '1')).code).toBe(0);
    expect((await runCli('pause', scriptId)).code).toBe(0);
    const description = await stack.env.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
    runId = description.runId;
  });
  afterAll(async () => {
    stack.sim.configure({ latency: null });
    await stack.env.client.workflow.getHandle(workflowId).terminate('test cleanup').catch(() => undefined);
  });

  it('import refuses: exit 2, the running workflow named, nothing written (by --script-id or by title)', async () => {
    const before = await storedScript(scriptId);
    const byId = await runCli('import', edited, '--script-id', scriptId);
    expect(byId.code).toBe(2);
    expect(byId.err).toContain(`is being ingested by workflow ${workflowId}`);
    expect(byId.err).toContain('nothing was written');
    const byTitle = await runCli('import', edited, '--title', title);
    expect(byTitle.code).toBe(2);
    expect(byTitle.err).toContain(workflowId);
    expect(await storedScript(scriptId)).toEqual(before);
  });

  it('ingest <file> refuses before importing: exit 3, the workflow named, nothing written, no run started', async () => {
    const before = await storedScript(scriptId);
    const result = await runCli('ingest', edited, '--script-id', scriptId, '--wait');
    expect(result.code).toBe(3);
    expect(result.err).toContain(`is being ingested by workflow ${workflowId}`);
    expect(result.err).toContain(`Web UI: ${stack.app.config.temporal.uiUrl}/namespaces/default/workflows/${workflowId}`);
    expect(result.out).toBe('');
    expect(await storedScript(scriptId)).toEqual(before);
    const description = await stack.env.client.workflow.getHandle(workflowId).describe();
    expect(description).toMatchObject({ runId, status: { name: 'RUNNING' } });
  });

  it('POST /api/scripts refuses with 409, naming the running run in the error (its id, Web UI link and URLs), nothing written', async () => {
    const api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client });
    try {
      const before = await storedScript(scriptId);
      const res = await api.call(`/api/scripts?scriptId=${scriptId}&fileName=ferry.fountain`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: readFileSync(edited) });
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({
        code: 'conflict',
        workflowId,
        webUi: `${stack.app.config.temporal.uiUrl}/namespaces/default/workflows/${workflowId}`,
        urls: { status: `/api/runs/${workflowId}`, cancel: `/api/runs/${workflowId}/cancel` },
      });
      expect(body.error.message).toContain(`is being ingested by workflow ${workflowId}`);
      // Said in the API's terms, not the CLI's.
      expect(body.error.message).toContain(`Wait for it (GET /api/runs/${workflowId}) or cancel it (POST /api/runs/${workflowId}/cancel), then upload again.`);
      expect(body.error.message).not.toContain('storyloom ');
      expect(await storedScript(scriptId)).toEqual(before);
    } finally {
      await api.close();
    }
  });

  it('once the run has finished, the same import goes through', async () => {
    stack.sim.configure({ latency: null });
    expect((await runCli('resume', scriptId)).code).toBe(0);
    expect((await stack.env.client.workflow.getHandle(workflowId).result()).status).toBe('completed');
    const result = await runCli('import', edited, '--script-id', scriptId);
    expect(result.code).toBe(0);
    expect(result.out).toContain('2 new or changed, 5 unchanged, 0 removed'); // scene 2 edited, one added
  });
});

it('with Temporal out of reach, a run recorded as running still refuses the import', async () => {
  const title = `Ferry, Temporal away ${Date.now()}`;
  const path1 = file('ferry-away.fountain', ferry);
  const imported = await runCli('import', path1, '--title', title);
  const scriptId = /script id: (\S+)/.exec(imported.out)![1];
  await stack.app.services.db.query(
    `INSERT INTO ingestion_runs (workflow_id, run_id, script_id, mode, flags, concurrency, status) VALUES ($1, $2, $3, 'full', '{}', '{}', 'running')`,
    [ingestionWorkflowId(scriptId), randomUUID(), scriptId],
  );
  const edited = file('ferry-away-edited.fountain', ferry.replace('Fog rolls', 'Mist rolls'));
  const before = await storedScript(scriptId);
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const refused = await runCli('import', edited, '--title', title);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`is being ingested by workflow ${ingestionWorkflowId(scriptId)} (recorded as running; Temporal could not be reached to confirm)`);
    expect(await storedScript(scriptId)).toEqual(before);
    await stack.app.services.db.query(`UPDATE ingestion_runs SET status = 'failed' WHERE script_id = $1`, [scriptId]);
    expect((await runCli('import', edited, '--title', title)).code).toBe(0);
  } finally {
    process.env.TEMPORAL_ADDRESS = stack.env.address;
  }
});
