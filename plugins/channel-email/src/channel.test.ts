import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RenderedTemplate } from '@atrium/core';
import { composeMail, type EmailMessage, messageIdOf } from './channel.ts';
import { emailConfig } from './config.ts';
import { classify, SmtpRejectedError } from './transport.ts';

const message = (over: Partial<EmailMessage> = {}): EmailMessage => ({
  id: 'm1',
  idempotencyKey: '0f9d3c1e-4f7a-4a86-9a53-1c1b8e6d2a10',
  conversationId: 'c1',
  profileId: 'p1',
  to: 'ann@example.com',
  text: 'Hello',
  parts: [],
  attachments: [],
  args: {},
  thread: [],
  inbox: { id: 'i1', workspaceId: 'w1', address: 'support@shop.example', settings: {}, secret: 'chs_x' },
  ...over,
});
const noTemplates = async (): Promise<RenderedTemplate> => {
  throw new Error('no template expected');
};

describe('composeMail', () => {
  test('the Message-ID is the idempotency key at the inbox domain, or at messageIdDomain', async () => {
    const mail = await composeMail(message(), undefined, noTemplates);
    assert.equal(mail.messageId, '<0f9d3c1e-4f7a-4a86-9a53-1c1b8e6d2a10@shop.example>');
    assert.equal(mail.from, 'support@shop.example');
    assert.equal(mail.subject, 'A message from support@shop.example');
    const pinned = await composeMail(message(), 'mail.shop.example', noTemplates);
    assert.equal(pinned.messageId, '<0f9d3c1e-4f7a-4a86-9a53-1c1b8e6d2a10@mail.shop.example>');
  });

  test('keys that are not valid msg-id text are encoded, the same way every time', () => {
    assert.equal(messageIdOf('a b<c>', 'x.example'), messageIdOf('a b<c>', 'x.example'));
    assert.match(messageIdOf('a b<c>', 'x.example'), /^<[A-Za-z0-9_-]+@x\.example>$/);
    assert.match(messageIdOf('.leading-dot', 'x.example'), /^<[A-Za-z0-9_-]+@x\.example>$/);
  });

  test('threads after the e-mails of the conversation only, newest last, at most 20', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `<m${i}@shop.example>`);
    const mail = await composeMail(
      message({ thread: ['wamid.HBgLNDE3OTEyMzQ1NjcVAgARGBI', ...ids, 'webchat:42'] }),
      undefined,
      noTemplates,
    );
    assert.equal(mail.inReplyTo, '<m24@shop.example>');
    assert.equal(mail.references?.length, 20);
    assert.equal(mail.references?.[0], '<m5@shop.example>');
  });

  test('the display name, reply-to and default subject come from the inbox settings', async () => {
    const mail = await composeMail(
      message({
        inbox: {
          ...message().inbox,
          settings: {
            displayName: 'Shop Support',
            replyTo: 'help@shop.example',
            defaultSubject: 'Your request',
          },
        },
      }),
      undefined,
      noTemplates,
    );
    assert.deepEqual(mail.from, { name: 'Shop Support', address: 'support@shop.example' });
    assert.equal(mail.replyTo, 'help@shop.example');
    assert.equal(mail.subject, 'Your request');
  });

  test('a template replaces the text; its subject applies unless the subject argument is given', async () => {
    const calls: unknown[] = [];
    const render = async (key: string, locale: string | null, variables: Record<string, unknown>) => {
      calls.push([key, locale, variables]);
      return { subject: 'Rendered subject', text: 'Rendered text', html: '<p>Rendered text</p>' };
    };
    const mail = await composeMail(
      message({ args: { template: 'welcome', locale: 'de', variables: { name: 'Ann' } } }),
      undefined,
      render,
    );
    assert.deepEqual(calls, [['welcome', 'de', { name: 'Ann' }]]);
    assert.equal(mail.text, 'Rendered text');
    assert.equal(mail.html, '<p>Rendered text</p>');
    assert.equal(mail.subject, 'Rendered subject');
    const titled = await composeMail(
      message({ args: { template: 'welcome', subject: 'Mine' } }),
      undefined,
      render,
    );
    assert.equal(titled.subject, 'Mine');
  });

  test('what cannot be sent is a ValidationError, which the core does not retry', async () => {
    const invalid = async (m: EmailMessage, field: string) =>
      assert.rejects(composeMail(m, undefined, noTemplates), (error: { code?: string; field?: string }) => {
        assert.equal(error.code, 'VALIDATION_FAILED');
        assert.equal(error.field, field);
        return true;
      });
    await invalid(message({ inbox: { ...message().inbox, address: null } }), 'inbox.address');
    await invalid(message({ inbox: { ...message().inbox, address: 'support' } }), 'inbox.address');
    await invalid(message({ to: null }), 'to');
    await invalid(message({ text: null, parts: [{ type: 'buttons' }] }), 'text');
    await invalid(message({ args: { template: 'welcome', variables: [1, 2] } }), 'args.variables');
  });
});

describe('SMTP errors', () => {
  const error = (props: Record<string, unknown>) => Object.assign(new Error('boom'), props);

  test('a permanent refusal is final, a transient one or a lost connection is retried', () => {
    assert.ok(
      classify(error({ responseCode: 550, permanent: true, response: '550 no such user' })) instanceof
        SmtpRejectedError,
    );
    assert.ok(classify(error({ code: 'EURLACCESS' })) instanceof SmtpRejectedError);
    for (const transient of [
      { responseCode: 451, permanent: false },
      { responseCode: 503, permanent: false },
      { code: 'ECONNECTION' },
      { code: 'ETIMEDOUT' },
      { code: 'ESOCKET' },
      // Wrong credentials are the operator's to fix: the messages wait for it.
      { code: 'EAUTH', responseCode: 535, permanent: true },
    ]) {
      const classified = classify(error(transient));
      assert.equal(classified instanceof SmtpRejectedError, false, JSON.stringify(transient));
    }
  });
});

describe('config', () => {
  test('smtpUrl must be smtp:// or smtps://; messageIdDomain a host name', () => {
    assert.equal(emailConfig.safeParse({ smtpUrl: 'smtps://user:pw@relay.example.com:465' }).success, true);
    assert.equal(
      emailConfig.safeParse({ smtpUrl: 'https://relay.example.com' }).error?.issues[0]?.message,
      'must be an smtp:// or smtps:// URL',
    );
    assert.equal(emailConfig.safeParse({}).success, false);
    assert.equal(
      emailConfig.safeParse({ smtpUrl: 'smtp://relay', messageIdDomain: 'not a host' }).error?.issues[0]
        ?.path[0],
      'messageIdDomain',
    );
    assert.deepEqual(emailConfig.parse({ smtpUrl: 'smtp://relay' }).poolSize, 5);
  });
});
