/** What ingestion made, read back for people: the outline, the character sheets and the searchable scenes. */
import type { DataSource } from 'typeorm';
import { CharacterEntity, CharacterSheetEntity, SceneEmbeddingEntity, SceneEntity, SceneSummaryEntity, ScriptOutlineEntity } from '../entities';

export class AnalysisRepository {
  constructor(private readonly db: DataSource) {}

  async outline(scriptId: string): Promise<{ outline: string; model: string; sections: number } | undefined> {
    const row = await this.db.getRepository(ScriptOutlineEntity).findOne({ select: { outline: true, model: true, sections: true }, where: { scriptId } });
    return row ? { outline: row.outline, model: row.model, sections: row.sections } : undefined;
  }

  /** Characters with a sheet, by name. */
  async sheets(scriptId: string): Promise<{ name: string; sheet: unknown }[]> {
    return this.db
      .getRepository(CharacterEntity)
      .createQueryBuilder('c')
      .innerJoin(CharacterSheetEntity.options.name, 'cs', 'cs.characterId = c.id')
      .select(['c.name AS name', 'cs.sheet AS sheet'])
      .where('c.scriptId = :scriptId', { scriptId })
      .orderBy('c.name')
      .getRawMany();
  }

  /** Scenes with an embedding, with their summary and the embedding's model. */
  async embeddedScenes(scriptId: string): Promise<{ position: number; heading: string; summary: string; model: string; embedding: number[] }[]> {
    return this.db
      .getRepository(SceneEmbeddingEntity)
      .createQueryBuilder('se')
      .innerJoin(SceneEntity.options.name, 's', 's.id = se.sceneId')
      .innerJoin(SceneSummaryEntity.options.name, 'ss', 'ss.sceneId = s.id')
      .select(['s.position AS position', 's.heading AS heading', 'ss.summary AS summary', 'se.model AS model', 'se.embedding AS embedding'])
      .where('s.scriptId = :scriptId', { scriptId })
      .getRawMany();
  }
}
