import type { DataSubjectContext } from '@atrium/core';
import type { WebhooksConfig } from './config.ts';

/**
 * A delivery concerns the person when its CloudEvent (subject or data) names one of their
 * profile ids or identity values: `ctx.mentions`, matched in the delivery's JSON text.
 */
function concerning(ctx: DataSubjectContext<WebhooksConfig>): { where: string; params: string[] } {
  const mentioned = ctx.mentions.map(() => 'strpos(lower(payload::text), ?) > 0').join(' or ');
  return { where: `workspace_id = ? and (${mentioned})`, params: [ctx.workspaceId, ...ctx.mentions] };
}

/** GDPR export: the webhook deliveries that carried the person's data, with what they carried. */
export async function exportWebhookDeliveries(
  _profileId: string,
  ctx: DataSubjectContext<WebhooksConfig>,
): Promise<Record<string, unknown>> {
  const { where, params } = concerning(ctx);
  const deliveries = await ctx.em.execute(
    `select id, endpoint_id as "endpointId", event_type as "eventType", payload, status, attempts,
       created_at as "createdAt", delivered_at as "deliveredAt"
     from webhook_delivery where ${where} order by created_at, id`,
    params,
  );
  return { deliveries };
}

/**
 * GDPR erasure, in the erasure's transaction: the delivery log's copies of the person's events
 * go. A queued attempt then finds no delivery and does nothing; an attempt already on the wire
 * cannot be called back.
 */
export async function eraseWebhookDeliveries(
  _profileId: string,
  ctx: DataSubjectContext<WebhooksConfig>,
): Promise<number> {
  const { where, params } = concerning(ctx);
  const gone = await ctx.em.execute(`delete from webhook_delivery where ${where} returning id`, params);
  return gone.length;
}
