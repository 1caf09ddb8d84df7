import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { type DefinitionContext, type JourneyNode, validateDefinition } from '../definition.ts';
import { zoneOrUtc } from '../engine/clock.ts';
import type { AnyStep, StepContext, StepResult } from '../steps/step.ts';
import { getJourney } from './journeys.ts';

export interface SimulatedStep {
  node: string;
  type: string;
  /** When the step would run, on a clock that jumps over waits. */
  at: Date;
  outcome: string | null;
  note: string | null;
}

const MAX_SIMULATED_STEPS = 100;
class Rollback extends Error {}

/**
 * What the journey's draft would do for one profile, from now: conditions are evaluated on the
 * profile's real data, waits are skipped on a simulated clock (a wait for an event takes its
 * timeout unless the event is listed in `assumeEvents`), sends and updates only say what they
 * would do. Runs in a transaction that is always rolled back, so nothing can change.
 */
export async function simulateJourney(
  em: EntityManager,
  runtime: ModuleRuntime,
  context: DefinitionContext & { steps: ReadonlyMap<string, AnyStep> },
  input: { journeyId: string; profileId: string; assumeEvents?: string[]; now?: Date },
): Promise<SimulatedStep[]> {
  // Through the workspace filter: a journey id of another workspace is "not found".
  const journey = await getJourney(em, input.journeyId);
  const definition = validateDefinition(journey.draft, context);
  const profile = await sql<{ tz: string | null }>(
    em,
    `select traits ->> 'timezone' as tz from profile where id = $1 and workspace_id = $2`,
    [input.profileId, journey.workspace],
  );
  if (!profile.length) throw new NotFoundError('the profile');
  const assumed = new Set(input.assumeEvents ?? []);
  const trail: SimulatedStep[] = [];
  try {
    await em.transactional(async (tx) => {
      let clock = input.now ?? new Date();
      let nodeId: string | null = definition.start;
      const enrollment = {
        id: crypto.randomUUID(),
        journeyId: input.journeyId,
        version: 0,
        profileId: input.profileId,
        enteredAt: clock,
        context: {},
      };
      while (nodeId && trail.length < MAX_SIMULATED_STEPS) {
        const node: JourneyNode | undefined = definition.nodes[nodeId];
        const step: AnyStep | undefined = node && context.steps.get(node.type);
        if (!node || !step) break;
        const ctx: StepContext = {
          em: tx,
          workspaceId: journey.workspace,
          enrollment,
          idempotencyKey: `${enrollment.id}:${trail.length + 1}`,
          now: clock,
          dryRun: true,
          timeZone: async () => zoneOrUtc(profile[0]?.tz),
          runtime,
        };
        const result: StepResult = await step.fn(node.args as never, ctx);
        if ('wait' in result) {
          const byEvent: boolean = result.wait.event !== undefined && assumed.has(result.wait.event);
          const outcome: string = step.resume?.(node.args as never, byEvent ? 'event' : 'timeout') ?? 'next';
          trail.push({
            node: nodeId,
            type: node.type,
            at: clock,
            outcome,
            note: byEvent
              ? `assumed event ${result.wait.event}`
              : `waits until ${result.wait.until.toISOString()}`,
          });
          if (!byEvent) clock = result.wait.until;
          nodeId = node.next[outcome] ?? null;
        } else if ('retryAt' in result) {
          trail.push({
            node: nodeId,
            type: node.type,
            at: clock,
            outcome: null,
            note: `${result.note}: runs again at ${result.retryAt.toISOString()}`,
          });
          clock = result.retryAt;
        } else {
          trail.push({
            node: nodeId,
            type: node.type,
            at: clock,
            outcome: result.outcome,
            note: result.note ?? null,
          });
          if (result.context) Object.assign(enrollment.context, result.context);
          nodeId = node.next[result.outcome] ?? null;
        }
      }
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return trail;
}
