import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { emailPlugin, inboundMailHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './index.ts';
import {
  createEmailInbox,
  grantMarketingEmail,
  type MessageRow,
  messageRow,
  profileWithEmail,
  publishTemplate,
  rows,
  send,
} from './testing/conversations.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from './testing/loopback-smtp.ts';

/** A customer's mail as their client writes it. */
function customerMail(mail: {
  from: string;
  subject: string;
  text: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  language?: string;
  attachment?: { name: string; contentType: string; bytes: Buffer };
}): Buffer {
  const headers = [
    `From: ${mail.from}`,
    'To: "Shop Support" <support@shop.example>',
    `Subject: ${mail.subject}`,
    'Date: Tue, 03 Jun 2025 10:02:00 +0200',
    ...(mail.messageId ? [`Message-ID: ${mail.messageId}`] : []),
    ...(mail.inReplyTo ? [`In-Reply-To: ${mail.inReplyTo}`] : []),
    ...(mail.references ? [`References: ${mail.references.join(' ')}`] : []),
    ...(mail.language ? [`Content-Language: ${mail.language}`] : []),
    'MIME-Version: 1.0',
  ];
  if (!mail.attachment) {
    return Buffer.from(
      [...headers, 'Content-Type: text/plain; charset=utf-8', '', mail.text, ''].join('\r\n'),
    );
  }
  const a = mail.attachment;
  return Buffer.from(
    [
      ...headers,
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      mail.text,
      '--b1',
      `Content-Type: ${a.contentType}; name="${a.name}"`,
      `Content-Disposition: attachment; filename="${a.name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      a.bytes.toString('base64'),
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

describe('the e-mail channel against a real SMTP server', () => {
  let env: TestEnvironment;
  let smtp: LoopbackSmtp;
  let workspaceId: string;
  let inbox: { id: string; secret: string };
  let profileId: string;
  const refusedRecipients: string[] = [];

  before(async () => {
    smtp = await startLoopbackSmtp({
      // The mailbox that is busy answers 451 once; the one that does not exist is refused for good.
      answer: (mail, n) =>
        mail.envelopeTo.includes('busy@example.com') && n === 1
          ? { code: 451, message: '4.3.0 try again later' }
          : { code: 250 },
      refuseRecipient: (address) => {
        if (address !== 'gone@example.com') return null;
        refusedRecipients.push(address);
        return { code: 550, message: '5.1.1 <gone@example.com>: mailbox unavailable' };
      },
    });
    env = await createTestEnvironment({
      plugins: [emailPlugin({ smtpUrl: smtp.url, poolSize: 2 })],
      settings: { CONVERSATION_DELIVERY_RETRY_DELAY_S: '1' },
    });
    workspaceId = (await env.workspace('demo')).id;
    inbox = await createEmailInbox(env.atrium, workspaceId, {
      address: 'support@shop.example',
      settings: { displayName: 'Shop Support', defaultSubject: 'Your request' },
    });
    profileId = await profileWithEmail(env.atrium, workspaceId, 'ann@example.com');
  });
  after(async () => {
    await env?.destroy();
    await smtp?.close();
  });

  const settled = (id: string) =>
    waitFor(
      async () => {
        const row = await messageRow(env.atrium, id);
        return row && ['sent', 'failed'].includes(row.status) ? row : null;
      },
      20_000,
      `message ${id} to be sent or failed`,
    );

  const postMail = (raw: Buffer, headers: Record<string, string> = inboundMailHeaders(inbox.secret, raw)) =>
    fetch(`${env.url}/channels/${inbox.id}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822', ...headers },
      body: new Uint8Array(raw),
    });

  const counts = async () =>
    (
      await rows<{ messages: string; conversations: string; profiles: string }>(
        env.atrium,
        `select (select count(*) from message) as messages, (select count(*) from conversation) as conversations,
                (select count(*) from profile) as profiles`,
      )
    )[0];

  let first: MessageRow;

  test('a message goes out through SMTP with a Message-ID made from its id, and is sent', async () => {
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      text: 'Hello Ann,\n\nyour order has shipped.',
      args: { subject: 'Your order 1042' },
    });
    first = await settled(message.id);
    assert.equal(first.status, 'sent');
    assert.equal(first.attempts, 1);
    assert.equal(first.provider_message_id, `<${message.id}@shop.example>`);
    const [mail] = smtp.accepted(first.provider_message_id as string);
    assert.ok(mail, 'the SMTP server accepted a mail with that Message-ID');
    assert.equal(smtp.accepted(first.provider_message_id as string).length, 1);
    assert.deepEqual(mail.from, { address: 'support@shop.example', name: 'Shop Support' });
    assert.deepEqual(mail.to, ['ann@example.com']);
    assert.deepEqual(mail.envelopeTo, ['ann@example.com']);
    assert.equal(mail.envelopeFrom, 'support@shop.example');
    assert.equal(mail.subject, 'Your order 1042');
    assert.equal(mail.text?.trim(), 'Hello Ann,\n\nyour order has shipped.');
    assert.equal(mail.html, null, 'plain text goes out as text/plain only');
    assert.equal(mail.inReplyTo, null, 'the first mail of a conversation answers nothing');
  });

  test('line breaks in a subject cannot add headers or recipients', async () => {
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      text: 'Hi',
      args: { subject: 'Hello\r\nBcc: mallory@evil.example' },
    });
    const row = await settled(message.id);
    const [mail] = smtp.accepted(row.provider_message_id as string);
    assert.deepEqual(mail?.envelopeTo, ['ann@example.com']);
    assert.equal(mail?.subject, 'Hello Bcc: mallory@evil.example');
    assert.doesNotMatch(mail?.raw.toString() ?? '', /^Bcc:/im);
  });

  test('the same idempotency key twice is one message and one mail', async () => {
    const input = {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      text: 'Your invoice is attached to your account.',
      idempotencyKey: 'invoice-2025-06-ann',
    };
    const a = await send(env.atrium, input);
    const b = await send(env.atrium, input);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.message.id, a.message.id);
    const row = await settled(a.message.id);
    assert.equal(row.status, 'sent');
    // Give a second delivery every chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(smtp.received.filter((m) => m.messageId === row.provider_message_id).length, 1);
    const [{ n }] = (await rows<{ n: string }>(
      env.atrium,
      `select count(*) as n from message where idempotency_key = 'invoice-2025-06-ann'`,
    )) as [{ n: string }];
    assert.equal(Number(n), 1);
  });

  test('a template send renders the published content entry with its variables', async () => {
    await publishTemplate(env.atrium, workspaceId, 'order-shipped', {
      en: {
        subject: 'Order {{ order.number }} has shipped',
        body: 'Hi {{ name }},\n\nit is on its way & insured.',
      },
      de: {
        subject: 'Bestellung {{ order.number }} ist unterwegs',
        body: 'Hallo {{ name }},\n\nsie ist unterwegs.',
      },
    });
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      // No text: the template part is the message, which the core accepts because e-mail has templates.
      parts: [
        {
          type: 'template',
          template: 'order-shipped',
          locale: 'de',
          variables: { name: 'Ann', order: { number: '1042' } },
        },
      ],
    });
    const row = await settled(message.id);
    assert.equal(row.status, 'sent', row.error ?? '');
    const [mail] = smtp.accepted(row.provider_message_id as string);
    assert.equal(mail?.subject, 'Bestellung 1042 ist unterwegs');
    assert.match(mail?.text ?? '', /^Hallo Ann,\n\nsie ist unterwegs\./);
    assert.match(mail?.html ?? '', /<p>Hallo Ann,<\/p><p>sie ist unterwegs\.<\/p>/);

    const viaArgs = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      text: 'Your order has shipped (shown to agents).',
      args: { template: 'order-shipped', variables: { name: 'Ann <b>', order: { number: '7' } } },
    });
    const second = await settled(viaArgs.message.id);
    const [english] = smtp.accepted(second.provider_message_id as string);
    assert.equal(english?.subject, 'Order 7 has shipped');
    assert.match(english?.html ?? '', /Hi Ann &lt;b&gt;,<\/p><p>it is on its way &amp; insured\./);

    const missing = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      text: 'x',
      args: { template: 'no-such-entry' },
    });
    const failed = await settled(missing.message.id);
    assert.equal(failed.status, 'failed', 'a template that does not exist cannot succeed later');
    assert.equal(failed.attempts, 1);
  });

  let customerMessageId: string;

  test("a customer's reply to our mail lands in the same conversation, and our answer threads after it", async () => {
    const before = await counts();
    customerMessageId = '<CAF=reply-1@mail.example.com>';
    const raw = customerMail({
      from: '"Ann Example" <Ann@Example.com>',
      subject: 'Re: Your order 1042',
      messageId: customerMessageId,
      inReplyTo: first.provider_message_id as string,
      references: [first.provider_message_id as string],
      language: 'de-CH',
      text: 'Thanks! Can I change the address?\n\nOn Tue, 3 Jun 2025 at 09:00, Shop Support <support@shop.example> wrote:\n> Hello Ann,\n> your order has shipped.',
      attachment: { name: 'label.pdf', contentType: 'application/pdf', bytes: Buffer.alloc(1234, 7) },
    });
    const response = await postMail(raw);
    assert.equal(response.status, 200, await response.text());
    const [inbound] = await rows<MessageRow & { conversation_language: string | null }>(
      env.atrium,
      `select m.*, c.language as conversation_language from message m join conversation c on c.id = m.conversation_id
       where m.provider_message_id = $1`,
      [customerMessageId],
    );
    assert.ok(inbound);
    assert.equal(inbound.direction, 'inbound');
    assert.equal(inbound.conversation_id, first.conversation_id);
    assert.equal(inbound.text, 'Thanks! Can I change the address?', 'the quoted history is cut');
    assert.deepEqual(inbound.attachments, [
      { name: 'label.pdf', contentType: 'application/pdf', size: 1234 },
    ]);
    assert.deepEqual(inbound.in_reply_to, [first.provider_message_id]);
    assert.deepEqual(inbound.parts, [{ type: 'email', subject: 'Re: Your order 1042' }]);
    assert.equal(inbound.conversation_language, 'de-CH', 'Content-Language sets the conversation language');
    const after = await counts();
    assert.equal(Number(after?.profiles), Number(before?.profiles), 'the sender is the known profile');
    assert.equal(Number(after?.messages), Number(before?.messages) + 1);

    // The provider retries the same mail: nothing is added.
    assert.equal((await postMail(raw)).status, 200);
    assert.equal(Number((await counts())?.messages), Number(after?.messages));

    const answer = await send(env.atrium, {
      workspaceId,
      conversationId: first.conversation_id,
      text: 'Yes, reply with the new address.',
      args: { subject: 'Re: Your order 1042' },
    });
    const row = await settled(answer.message.id);
    const [mail] = smtp.accepted(row.provider_message_id as string);
    assert.equal(mail?.inReplyTo, customerMessageId);
    assert.equal(mail?.references.at(-1), customerMessageId);
    assert.ok(mail?.references.includes(first.provider_message_id as string));
  });

  test('a bad signature is 401 and stores nothing', async () => {
    const before = await counts();
    const raw = customerMail({
      from: 'mallory@evil.example',
      subject: 'hi',
      text: 'let me in',
      messageId: '<m1@evil.example>',
    });
    const forged = inboundMailHeaders('chs_not-the-secret', raw);
    const response = await postMail(raw, forged);
    assert.equal(response.status, 401);
    assert.equal(
      ((await response.json()) as { error: { code: string } }).error.code,
      'WEBHOOK_SIGNATURE_INVALID',
    );
    const unsigned = await postMail(raw, {});
    assert.equal(unsigned.status, 401);
    // Signed, then one byte changed.
    const tampered = await postMail(
      Buffer.concat([raw, Buffer.from('x')]),
      inboundMailHeaders(inbox.secret, raw),
    );
    assert.equal(tampered.status, 401);
    assert.deepEqual(await counts(), before);
  });

  test('a replayed request with an old timestamp is 401', async () => {
    const before = await counts();
    const raw = customerMail({
      from: 'ann@example.com',
      subject: 'old',
      text: 'replayed',
      messageId: '<old@mail.example.com>',
    });
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 360;
    const response = await postMail(raw, inboundMailHeaders(inbox.secret, raw, sixMinutesAgo));
    assert.equal(response.status, 401);
    assert.match(
      ((await response.json()) as { error: { message: string } }).error.message,
      new RegExp(TIMESTAMP_HEADER),
    );
    assert.deepEqual(await counts(), before);
    assert.ok(SIGNATURE_HEADER);
  });

  test('a body that is not a mail is 400 and stores nothing', async () => {
    const before = await counts();
    const response = await postMail(Buffer.from('this is not a mail at all'));
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { field: string } }).error.field, 'from');
    assert.deepEqual(await counts(), before);
  });

  test('a mail from someone new starts their profile and conversation, without a Message-ID too', async () => {
    const raw = customerMail({
      from: 'Bo <bo@example.org>',
      subject: 'Question',
      text: 'Do you ship to Norway?',
    });
    assert.equal((await postMail(raw)).status, 200);
    const [row] = await rows<MessageRow>(
      env.atrium,
      `select m.* from message m where m.text = 'Do you ship to Norway?'`,
    );
    assert.match(row?.provider_message_id ?? '', /^<[0-9a-f]{40}@generated\.atrium\.invalid>$/);
    assert.equal((await postMail(raw)).status, 200);
    const again = await rows(env.atrium, `select 1 from message where text = 'Do you ship to Norway?'`);
    assert.equal(again.length, 1, 'the same bytes posted twice are one message');
  });

  test('the forwarding script for Postfix posts a signed mail that lands', async () => {
    const script = new URL('../scripts/forward-mail.sh', import.meta.url).pathname;
    const run = (config: string, input: Buffer | string) =>
      new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn('sh', [script, config], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
        });
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stderr }));
        child.stdin.end(input);
      });
    const dir = mkdtempSync(join(tmpdir(), 'atrium-forward-'));
    try {
      const config = join(dir, 'inbox.env');
      writeFileSync(
        config,
        `ATRIUM_WEBHOOK_URL='${env.url}/channels/${inbox.id}/webhook'\nATRIUM_INBOX_SECRET='${inbox.secret}'\n`,
      );
      const raw = customerMail({
        from: 'ann@example.com',
        subject: 'Via Postfix',
        messageId: '<postfix-1@mail.example.com>',
        text: 'Sent through the pipe.\n',
      });
      const forwarded = await run(config, raw);
      assert.equal(forwarded.status, 0, forwarded.stderr);
      const [row] = await rows<MessageRow>(
        env.atrium,
        'select * from message where provider_message_id = $1',
        ['<postfix-1@mail.example.com>'],
      );
      assert.equal(row?.text, 'Sent through the pipe.');

      writeFileSync(
        config,
        `ATRIUM_WEBHOOK_URL='${env.url}/channels/${inbox.id}/webhook'\nATRIUM_INBOX_SECRET=wrong\n`,
      );
      const wrongSecret = await run(config, raw);
      assert.equal(wrongSecret.status, 75, 'a wrong secret keeps the mail queued (EX_TEMPFAIL)');
      writeFileSync(
        config,
        `ATRIUM_WEBHOOK_URL='${env.url}/channels/${inbox.id}/webhook'\nATRIUM_INBOX_SECRET='${inbox.secret}'\n`,
      );
      const notAMail = await run(config, 'no headers here');
      assert.equal(notAMail.status, 65, 'a body Atrium refuses bounces (EX_DATAERR)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a 550 fails the message at once, without a retry', async () => {
    const gone = await profileWithEmail(env.atrium, workspaceId, 'gone@example.com');
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId: gone,
      inboxId: inbox.id,
      text: 'Hello?',
    });
    const row = await settled(message.id);
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 1);
    assert.match(row.error ?? '', /550/);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await messageRow(env.atrium, message.id))?.attempts, 1);
    assert.equal(refusedRecipients.length, 1, 'the relay was asked once');
  });

  test('a 451 is retried and then sent', async () => {
    const busy = await profileWithEmail(env.atrium, workspaceId, 'busy@example.com');
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId: busy,
      inboxId: inbox.id,
      text: 'Hello!',
    });
    const row = await settled(message.id);
    assert.equal(row.status, 'sent', row.error ?? '');
    assert.equal(row.attempts, 2);
    const tries = smtp.received.filter((m) => m.messageId === row.provider_message_id);
    assert.deepEqual(
      tries.map((m) => m.reply),
      [451, 250],
      'the retry carried the same Message-ID',
    );
  });

  test('a bounce for a sent message marks it failed', async () => {
    const bounce = Buffer.from(
      [
        'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)',
        'To: support@shop.example',
        'Subject: Undelivered Mail Returned to Sender',
        'Message-ID: <bounce-1@mx.example.com>',
        'Auto-Submitted: auto-replied',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        '',
        '--r',
        'Content-Type: text/plain',
        '',
        'Your message could not be delivered.',
        '--r',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.com',
        '',
        'Final-Recipient: rfc822; ann@example.com',
        'Action: failed',
        'Status: 5.2.2',
        'Diagnostic-Code: smtp; 552 5.2.2 mailbox full',
        '',
        '--r',
        'Content-Type: text/rfc822-headers',
        '',
        `Message-ID: ${first.provider_message_id}`,
        'From: Shop Support <support@shop.example>',
        '',
        '--r--',
        '',
      ].join('\r\n'),
    );
    const before = await counts();
    const response = await postMail(bounce);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { received: 0, statuses: 1 });
    const row = await messageRow(env.atrium, first.id);
    assert.equal(row?.status, 'failed');
    assert.equal(row?.error, 'bounced (5.2.2): 552 5.2.2 mailbox full');
    assert.deepEqual(await counts(), before, 'the mailer daemon is not a customer');
  });

  test('a marketing send without marketing_email consent is refused and queues nothing', async () => {
    const jobs = async () =>
      Number(
        (
          await rows<{ n: string }>(
            env.atrium,
            `select count(*) as n from pgboss.job where name = 'conversations.deliver'`,
          )
        )[0]?.n,
      );
    const before = { ...(await counts()), jobs: await jobs() };
    await assert.rejects(
      send(env.atrium, {
        workspaceId,
        profileId,
        inboxId: inbox.id,
        purpose: 'marketing',
        text: 'Summer sale!',
        args: { subject: 'Sale' },
      }),
      (error: { code?: string }) => error.code === 'CONSENT_REQUIRED',
    );
    assert.deepEqual({ ...(await counts()), jobs: await jobs() }, before);

    await grantMarketingEmail(env.atrium, workspaceId, profileId);
    const { message } = await send(env.atrium, {
      workspaceId,
      profileId,
      inboxId: inbox.id,
      purpose: 'marketing',
      text: 'Summer sale!',
      args: { subject: 'Sale' },
    });
    assert.equal((await settled(message.id)).status, 'sent');
  });

  test('inbox settings are checked when the inbox is created', async () => {
    await assert.rejects(
      createEmailInbox(env.atrium, workspaceId, {
        address: 'sales@shop.example',
        settings: { replyTo: 'nope' },
      }),
      (error: { code?: string; field?: string }) =>
        error.code === 'VALIDATION_FAILED' && error.field === 'settings.replyTo',
    );
    await assert.rejects(
      createEmailInbox(env.atrium, workspaceId, {
        address: 'sales@shop.example',
        settings: { colour: 'red' },
      }),
      (error: { code?: string }) => error.code === 'VALIDATION_FAILED',
    );
  });
});
