import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { JourneyDefinition } from '../definition.ts';

/** A published, running journey and the version new enrollments join. */
export interface LiveJourney {
  workspaceId: string;
  journeyId: string;
  key: string;
  version: number;
  definition: JourneyDefinition;
}

/** The workspace's published journeys (paused and archived ones take no new enrollments). */
export async function liveJourneys(em: EntityManager, workspaceId: string): Promise<LiveJourney[]> {
  return sql<LiveJourney>(
    em,
    `select j.workspace_id as "workspaceId", j.id as "journeyId", j.key, v.version, v.definition
     from journey j join journey_version v on v.journey_id = j.id and v.version = j.published_version
     where j.workspace_id = $1 and j.status = 'published'`,
    [workspaceId],
  );
}

/** Every version any enrollment of the workspace still runs on, for goals and exits of older versions too. */
export async function runningVersions(em: EntityManager, workspaceId: string): Promise<LiveJourney[]> {
  return sql<LiveJourney>(
    em,
    `select j.workspace_id as "workspaceId", j.id as "journeyId", j.key, v.version, v.definition
     from journey j join journey_version v on v.journey_id = j.id
     where j.workspace_id = $1 and exists (
       select 1 from journey_enrollment e where e.journey_id = j.id and e.version = v.version and e.status in ('active', 'waiting'))`,
    [workspaceId],
  );
}
