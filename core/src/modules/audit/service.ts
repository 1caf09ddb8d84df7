import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../../auth/principal.ts';
import { sql } from '../../db/sql.ts';
import { ValidationError } from '../../kernel/errors.ts';

/** A record an action was taken on. */
export interface AuditTarget {
  /** The GraphQL type or entity name, e.g. `Profile`, `ApiKey`. */
  type: string;
  id: string;
}

export interface AuditRecord {
  workspaceId: string;
  /** Who acted: a verified caller, or `{ kind: 'system', subject: '<job or command>' }`. */
  actor: Pick<Principal, 'subject'> & { kind: Principal['kind'] | 'system' };
  /** `<area>.<verb>`, e.g. `ai.answer`, `profile.export`; GraphQL mutations are `mutation.<field>`. */
  action: string;
  targets?: AuditTarget[];
  /** What else a reader needs, without personal data or secrets (ids, codes, counts, decisions). */
  details?: Record<string, unknown>;
  requestId?: string | null;
  occurredAt?: Date;
}

// The table `audit_entry` (migration core-0009-audit) has no entity: it is written and read with SQL
// only, and a trigger keeps it append-only (UPDATE, DELETE and TRUNCATE refused, except the
// retention job's deletes). Entries hold ids and codes, never personal data or secrets.

/**
 * Appends one entry to the audit log, on the caller's transaction when there is one (so the
 * entry commits or rolls back with the action it describes). Plugins call it through the core's
 * public API for what does not go through a GraphQL mutation (AI decisions, jobs, CLI).
 */
export async function recordAudit(em: EntityManager, record: AuditRecord): Promise<void> {
  if (!/^[a-z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+)+$/.test(record.action) || record.action.length > 200) {
    throw new ValidationError(`audit action "${record.action}" must look like "area.verb"`, 'action');
  }
  await sql(
    em,
    `insert into audit_entry (id, workspace_id, occurred_at, actor_kind, actor_subject, action, targets, details, request_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      crypto.randomUUID(),
      record.workspaceId,
      record.occurredAt ?? new Date(),
      record.actor.kind,
      record.actor.subject.slice(0, 255),
      record.action,
      JSON.stringify(record.targets ?? []),
      JSON.stringify(record.details ?? {}),
      record.requestId ?? null,
    ],
  );
}

export interface AuditFilter {
  actorSubject?: string | null;
  /** Exact action, or a prefix ending in `.`: `mutation.` matches every mutation. */
  action?: string | null;
  targetId?: string | null;
  since?: Date | null;
  until?: Date | null;
}

export interface AuditRow {
  id: string;
  occurredAt: Date;
  actorKind: string;
  actorSubject: string;
  action: string;
  targets: AuditTarget[];
  details: Record<string, unknown>;
  requestId: string | null;
}

/** A workspace's entries, newest first, filtered; the workspace is explicit (raw SQL, no ORM filter). */
export async function listAuditEntries(
  em: EntityManager,
  workspaceId: string,
  filter: AuditFilter,
  page: { limit: number; offset: number },
): Promise<AuditRow[]> {
  const action = filter.action ?? null;
  const rows = await sql<{
    id: string;
    occurred_at: Date;
    actor_kind: string;
    actor_subject: string;
    action: string;
    targets: AuditTarget[];
    details: Record<string, unknown>;
    request_id: string | null;
  }>(
    em,
    `select id, occurred_at, actor_kind, actor_subject, action, targets, details, request_id
       from audit_entry
      where workspace_id = $1
        and ($2::text is null or actor_subject = $2)
        and ($3::text is null or action = $3 or (right($3, 1) = '.' and starts_with(action, $3)))
        and ($4::text is null or targets @> jsonb_build_array(jsonb_build_object('id', $4::text)))
        and ($5::timestamptz is null or occurred_at >= $5)
        and ($6::timestamptz is null or occurred_at < $6)
      order by occurred_at desc, id desc
      limit $7 offset $8`,
    [
      workspaceId,
      filter.actorSubject ?? null,
      action,
      filter.targetId ?? null,
      filter.since ?? null,
      filter.until ?? null,
      page.limit,
      page.offset,
    ],
  );
  return rows.map((r) => ({
    id: r.id,
    occurredAt: r.occurred_at,
    actorKind: r.actor_kind,
    actorSubject: r.actor_subject,
    action: r.action,
    targets: r.targets,
    details: r.details,
    requestId: r.request_id,
  }));
}

/**
 * Removes entries older than `retentionDays`, in batches; the only deletes the append-only
 * trigger lets through, because this transaction says so (`atrium.audit_retention`).
 */
export async function cleanUpAuditLog(
  em: EntityManager,
  retentionDays: number,
  now = new Date(),
): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  let removed = 0;
  for (;;) {
    const batch = await em.transactional(async (tx) => {
      await sql(tx, `select set_config('atrium.audit_retention', 'on', true)`);
      return sql<{ id: string }>(
        tx,
        `delete from audit_entry where id in (select id from audit_entry where occurred_at < $1 limit 5000) returning id`,
        [cutoff],
      );
    });
    removed += batch.length;
    if (batch.length < 5000) return removed;
  }
}

/**
 * GDPR erasure hook: the erased profile's ids in `targets` become `erased`, in the erasure's
 * transaction. What was done stays on record; to whom is forgotten with the person.
 */
export async function eraseAuditTargets(
  em: EntityManager,
  workspaceId: string,
  profileIds: string[],
): Promise<number> {
  await sql(em, `select set_config('atrium.audit_erasure', 'on', true)`);
  const rows = await sql<{ id: string }>(
    em,
    `update audit_entry a
        set targets = (select jsonb_agg(case when t->>'id' = any($2::text[])
                                             then jsonb_build_object('type', t->>'type', 'id', 'erased')
                                             else t end)
                         from jsonb_array_elements(a.targets) t)
      where a.workspace_id = $1
        and exists (select 1 from jsonb_array_elements(a.targets) t where t->>'id' = any($2::text[]))
      returning a.id`,
    [workspaceId, profileIds],
  );
  await sql(em, `select set_config('atrium.audit_erasure', 'off', true)`);
  return rows.length;
}
