// Outbound e-mail end to end: BENCH_MESSAGES messages (default 1,000) to as many profiles go
// through sendMessage (row + delivery job in one transaction, BENCH_CONCURRENCY at a time) →
// pg-boss → the e-mail channel → a pooled SMTP connection → a real SMTP server on loopback,
// timed until every message is `sent`. Beside it, in the same run and against the same server,
// as many mails straight through a nodemailer pooled transport of the same size, and the ratio.
//
// Needs ATRIUM_TEST_DATABASE_URL (as `deploy/local/test.sh` starts it); a fresh database is made
// and dropped. Run: npm run bench:outbound. Knobs: BENCH_MESSAGES, BENCH_CONCURRENCY (default 8),
// BENCH_SMTP_POOL (default 5).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Atrium, createAtrium } from '@atrium/core';
import { createTestDatabase } from '@atrium/core/testing';
import { createTransport } from 'nodemailer';
import { parseSettings } from '../../../core/src/kernel/config.ts';
import { normaliseIdentity } from '../../../core/src/modules/profiles/service/identities.ts';
import { defaultIdentityRules } from '../../../core/src/modules/profiles/service/identity-rules.ts';
import { resolveProfiles } from '../../../core/src/modules/profiles/service/resolution.ts';
import { ensureWorkspace } from '../../../core/src/modules/workspaces/service.ts';
import { emailPlugin } from '../src/index.ts';
import { createEmailInbox, rows, scopedEm, send } from '../src/testing/conversations.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../src/testing/loopback-smtp.ts';

const messages = Number(process.env.BENCH_MESSAGES ?? 1000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const pool = Number(process.env.BENCH_SMTP_POOL ?? 5);
const WARM_UP = 100;
const TEXT = 'Hello,\n\nyour order has shipped and should arrive on Thursday.\n\nKind regards,\nShop Support';

async function runInParallel(count: number, parallel: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

async function profilesWithEmails(atrium: Atrium, workspaceId: string, count: number): Promise<string[]> {
  const resolution = await scopedEm(atrium, workspaceId).transactional((em) =>
    resolveProfiles(
      em,
      workspaceId,
      Array.from({ length: count }, (_, i) => ({
        keys: [normaliseIdentity('email', `customer${i}@example.com`)],
        at: new Date(),
        source: 'bench',
      })),
      defaultIdentityRules,
    ),
  );
  return resolution.profileIds;
}

interface Figures {
  perSecond: number;
  queuedPerSecond?: number;
  seconds: number;
}

/** Queues `profileIds.length` messages and waits until every one of them is sent. */
async function throughAtrium(
  atrium: Atrium,
  workspaceId: string,
  inboxId: string,
  profileIds: string[],
  run: string,
): Promise<Figures> {
  const started = performance.now();
  await runInParallel(profileIds.length, concurrency, (i) =>
    send(atrium, {
      workspaceId,
      profileId: profileIds[i] as string,
      inboxId,
      purpose: 'transactional',
      text: TEXT,
      args: { subject: `Your order ${run}-${i}` },
      idempotencyKey: `${run}-${i}`,
    }),
  );
  const queued = performance.now();
  for (;;) {
    const [row] = await rows<{ sent: string; failed: string }>(
      atrium,
      `select count(*) filter (where status = 'sent') as sent, count(*) filter (where status = 'failed') as failed
       from message where idempotency_key like $1`,
      [`${run}-%`],
    );
    if (Number(row?.failed)) throw new Error(`${row?.failed} messages failed`);
    if (Number(row?.sent) === profileIds.length) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: profileIds.length / seconds,
    queuedPerSecond: profileIds.length / ((queued - started) / 1000),
    seconds,
  };
}

/** The same mails straight through nodemailer's pooled transport, all handed over at once. */
async function throughNodemailer(smtp: LoopbackSmtp, count: number, run: string): Promise<Figures> {
  const transport = createTransport({ url: smtp.url, pool: true, maxConnections: pool, maxMessages: 100 });
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        transport.sendMail({
          from: { name: 'Shop Support', address: 'support@shop.example' },
          to: `customer${i}@example.com`,
          subject: `Your order ${run}-${i}`,
          text: TEXT,
          messageId: `<${run}-${i}@shop.example>`,
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: count / seconds, seconds };
  } finally {
    transport.close();
  }
}

if (import.meta.main) {
  const smtp = await startLoopbackSmtp({ parse: false });
  const database = await createTestDatabase('atrium_bench');
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
  const atrium = await createAtrium({
    config: {
      settings: parseSettings({
        LOG_LEVEL: 'silent',
        DATABASE_URL: database.url,
        ATRIUM_DATA_DIR: dataDir,
        DATABASE_POOL_MAX: String(concurrency + 8),
      }),
      plugins: [emailPlugin({ smtpUrl: smtp.url, poolSize: pool })],
    },
    migrateOnStart: true,
    role: 'all',
  });
  try {
    const workspace = await ensureWorkspace(atrium.orm.em.fork(), 'bench', 'Bench');
    const inbox = await createEmailInbox(atrium, workspace.id, {
      address: 'support@shop.example',
      settings: { displayName: 'Shop Support' },
    });
    const profileIds = await profilesWithEmails(atrium, workspace.id, messages + WARM_UP);
    // Warm-ups let the JIT, the database pools and the SMTP pools settle.
    await throughAtrium(atrium, workspace.id, inbox.id, profileIds.slice(messages), 'warm');
    await throughNodemailer(smtp, WARM_UP, 'warm-direct');
    const viaAtrium = await throughAtrium(
      atrium,
      workspace.id,
      inbox.id,
      profileIds.slice(0, messages),
      'run',
    );
    const direct = await throughNodemailer(smtp, messages, 'run-direct');

    const sent = await rows<{ provider_message_id: string; attempts: number }>(
      atrium,
      `select provider_message_id, attempts from message where idempotency_key like 'run-%'`,
    );
    const acceptedOnce = sent.filter((m) => smtp.accepted(m.provider_message_id).length === 1).length;
    const attempts = sent.reduce((sum, m) => sum + m.attempts, 0);
    console.log(
      `\n${messages} messages to ${messages} profiles, ${concurrency} sends in flight, SMTP pool ${pool}, loopback smtp-server, Node ${process.version}`,
    );
    console.log(
      `Atrium (sendMessage → job → channel → SMTP, until all sent) ${viaAtrium.perSecond.toFixed(0).padStart(6)} messages/s   ${viaAtrium.seconds.toFixed(2)} s   (queueing alone ${viaAtrium.queuedPerSecond?.toFixed(0)} sends/s)`,
    );
    console.log(
      `nodemailer pooled transport, directly                       ${direct.perSecond.toFixed(0).padStart(6)} messages/s   ${direct.seconds.toFixed(2)} s`,
    );
    if (acceptedOnce !== messages) process.exitCode = 1;
    console.log(
      `ratio: Atrium delivers ${((viaAtrium.perSecond / direct.perSecond) * 100).toFixed(1)} % of the direct rate; ${attempts} attempts for ${messages} messages, ${acceptedOnce} accepted exactly once by the server`,
    );
  } finally {
    await atrium.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    await smtp.close();
  }
}
