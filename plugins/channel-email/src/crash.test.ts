import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { emailPlugin } from './index.ts';
import { createEmailInbox, messageRow, profileWithEmail, send } from './testing/conversations.ts';
import { type LoopbackSmtp, type SmtpAnswer, startLoopbackSmtp } from './testing/loopback-smtp.ts';

const bin = new URL('../../../core/bin/atrium.js', import.meta.url).pathname;
const workerConfig = new URL('./testing/worker.config.ts', import.meta.url).pathname;
const DELIVER_QUEUE = 'conversations.deliver';

describe('an `atrium worker` killed in the middle of an SMTP delivery', () => {
  let env: TestEnvironment;
  let smtp: LoopbackSmtp;
  let workspaceId: string;
  let inboxId: string;
  let profileId: string;
  const workers: ChildProcess[] = [];
  /** What the relay does with the DATA of a message's first attempt; later attempts get 250. */
  let onFirstData: (mail: { messageId: string | null }) => SmtpAnswer = () => ({ code: 250 });

  before(async () => {
    smtp = await startLoopbackSmtp({ answer: (mail, n) => (n === 1 ? onFirstData(mail) : { code: 250 }) });
    // This process serves the API and queues; only the spawned workers deliver.
    env = await createTestEnvironment({
      plugins: [emailPlugin({ smtpUrl: smtp.url })],
      role: 'api',
      settings: { CONVERSATION_DELIVERY_RETRY_DELAY_S: '1' },
    });
    workspaceId = (await env.workspace('demo')).id;
    inboxId = (await createEmailInbox(env.atrium, workspaceId, { address: 'support@shop.example' })).id;
    profileId = await profileWithEmail(env.atrium, workspaceId, 'ann@example.com');
  });
  after(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await env?.destroy();
    await smtp?.close();
  });

  /** Starts `atrium worker` and resolves once it runs its queues. */
  async function startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [bin, 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        ATRIUM_CONFIG: workerConfig,
        ATRIUM_DATA_DIR: env.dataDir,
        EMAIL_TEST_SMTP_URL: smtp.url,
        LOG_LEVEL: 'info',
        JOBS_SUPERVISE_INTERVAL_S: '1',
        OUTBOX_POLL_MS: '100',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(child);
    let ready = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('atrium worker running')) ready = true;
      // Warnings and errors of the worker help when this test fails.
      for (const line of chunk.split('\n'))
        if (/"level":(40|50|60)/.test(line)) process.stderr.write(`${line}\n`);
    });
    await waitFor(() => ready || child.exitCode !== null, 30_000, 'the worker to start');
    assert.equal(child.exitCode, null, 'the worker started');
    // An attempt whose worker died is retried once it expires. Every process declares the queue's
    // expiry (300 s) at boot, so it is shortened after the worker started, for jobs queued from now on.
    await env.atrium.jobs.boss.updateQueue(DELIVER_QUEUE, { expireInSeconds: 2 });
    return child;
  }

  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child.once('exit', resolve));

  /** Each test starts with no worker running, so that the one it kills is the one that delivers. */
  async function stopWorkers(): Promise<void> {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
    await Promise.all(workers.map(exited));
  }

  test('killed before the relay answered: after a restart the mail is accepted exactly once', async () => {
    await stopWorkers();
    const first = await startWorker();
    onFirstData = () => {
      // The relay has the whole message but has not said 250 when the worker dies.
      first.kill('SIGKILL');
      return 'silent';
    };
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId,
      text: 'Your parcel is on its way.',
    });
    const messageId = `<${message.id}@shop.example>`;
    await exited(first);
    const orphan = await messageRow(env.atrium, message.id);
    assert.equal(orphan?.status, 'sending', 'the attempt was claimed, then its worker died');
    assert.equal(smtp.accepted(messageId).length, 0);

    await startWorker();
    const row = await waitFor(
      async () => {
        const r = await messageRow(env.atrium, message.id);
        return r?.status === 'sent' ? r : null;
      },
      45_000,
      'the message to be sent by the second worker',
    );
    assert.equal(row.provider_message_id, messageId);
    assert.equal(row.attempts, 2);
    // Give a duplicate every chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const seen = smtp.received.filter((m) => m.messageId === messageId);
    assert.deepEqual(
      seen.map((m) => m.reply),
      [null, 250],
      'the relay saw the DATA twice, with the same Message-ID, and accepted it once',
    );
    assert.equal(smtp.accepted(messageId).length, 1);
  });

  test('killed after the relay answered 250: the retry repeats the same Message-ID, and nothing is lost', async () => {
    await stopWorkers();
    const first = await startWorker();
    onFirstData = () => {
      // Frozen before it can read the 250, killed after: the relay accepted, the worker never knew.
      first.kill('SIGSTOP');
      setTimeout(() => first.kill('SIGKILL'), 200);
      return { code: 250 };
    };
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId,
      text: 'Your invoice is ready.',
    });
    const messageId = `<${message.id}@shop.example>`;
    await exited(first);
    assert.equal((await messageRow(env.atrium, message.id))?.status, 'sending');

    await startWorker();
    const row = await waitFor(
      async () => {
        const r = await messageRow(env.atrium, message.id);
        return r?.status === 'sent' ? r : null;
      },
      45_000,
      'the message to be sent by the second worker',
    );
    assert.equal(row.provider_message_id, messageId);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // SMTP has no idempotency: at-least-once is the most any sender can promise. What we promise
    // is that a repeat is recognisable, since it carries the same Message-ID.
    const accepted = smtp.accepted(messageId);
    assert.equal(accepted.length, 2);
    assert.deepEqual(
      accepted.map((m) => m.raw.toString().replace(/^Date: .*$/m, '')),
      Array(2).fill(accepted[0]?.raw.toString().replace(/^Date: .*$/m, '')),
      'the repeat is the same mail',
    );
  });
});
