import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInboundMail, withoutQuotedHistory } from './mime.ts';

const mail = (...lines: string[]) => Buffer.from(lines.join('\r\n'));

describe('parseInboundMail', () => {
  test('sender, ids, text, language and thread ids come from the headers', async () => {
    const { messages, statuses } = await parseInboundMail(
      mail(
        'From: =?UTF-8?Q?J=C3=BCrg_M=C3=BCller?= <Juerg@Example.ch>',
        'To: support@shop.example',
        'Subject: Re: Lieferung',
        'Message-ID: <new@mail.example.ch>',
        'In-Reply-To: <second@shop.example>',
        'References: <first@shop.example>\r\n <second@shop.example>',
        'Content-Language: de-CH, en',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Grüezi, wann kommt es?',
      ),
    );
    assert.deepEqual(statuses, []);
    assert.deepEqual(messages, [
      {
        providerMessageId: '<new@mail.example.ch>',
        from: { identities: [{ type: 'email', value: 'Juerg@Example.ch' }], name: 'Jürg Müller' },
        text: 'Grüezi, wann kommt es?',
        parts: [{ type: 'email', subject: 'Re: Lieferung' }],
        attachments: [],
        inReplyTo: ['<second@shop.example>', '<first@shop.example>'],
        language: 'de-CH',
      },
    ]);
  });

  test('HTML-only mail becomes text; attachments are kept as metadata only', async () => {
    const [message] = (
      await parseInboundMail(
        mail(
          'From: ann@example.com',
          'Message-ID: <h@example.com>',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="x"',
          '',
          '--x',
          'Content-Type: text/html; charset=utf-8',
          '',
          '<p>Photo of the <b>broken</b> lamp attached.</p>',
          '--x',
          'Content-Type: image/jpeg; name="lamp.jpg"',
          'Content-Disposition: attachment; filename="lamp.jpg"',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.alloc(300, 1).toString('base64'),
          '--x--',
          '',
        ),
      )
    ).messages;
    assert.equal(message?.text, 'Photo of the broken lamp attached.');
    assert.deepEqual(message?.attachments, [{ name: 'lamp.jpg', contentType: 'image/jpeg', size: 300 }]);
    assert.equal(message?.language, undefined);
  });

  test('an automatic reply says so, for automated answerers to leave it alone', async () => {
    const [message] = (
      await parseInboundMail(
        mail(
          'From: ann@example.com',
          'Subject: Out of office',
          'Auto-Submitted: auto-replied',
          '',
          'Back Monday.',
        ),
      )
    ).messages;
    assert.deepEqual(message?.parts, [
      { type: 'email', subject: 'Out of office', autoSubmitted: 'auto-replied' },
    ]);
    const [plain] = (await parseInboundMail(mail('From: ann@example.com', 'Auto-Submitted: no', '', 'Hi')))
      .messages;
    assert.deepEqual(plain?.parts, [{ type: 'email', subject: null }]);
  });

  test('a mail without a Message-ID gets one from a hash of its bytes', async () => {
    const raw = mail('From: bo@example.org', '', 'hello');
    const a = (await parseInboundMail(raw)).messages[0]?.providerMessageId;
    const b = (await parseInboundMail(Buffer.from(raw))).messages[0]?.providerMessageId;
    const c = (await parseInboundMail(mail('From: bo@example.org', '', 'hello!'))).messages[0]
      ?.providerMessageId;
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  test('a body that is not a mail is a ValidationError on from', async () => {
    for (const raw of [
      Buffer.alloc(0),
      Buffer.from('just some text'),
      Buffer.from('{"from":"ann@example.com"}'),
    ]) {
      await assert.rejects(parseInboundMail(raw), (error: { code?: string; field?: string }) => {
        assert.equal(error.code, 'VALIDATION_FAILED');
        assert.ok(error.field === 'from' || error.field === 'body');
        return true;
      });
    }
  });

  test('a DSN becomes a status of the message it reports on, never a customer message', async () => {
    const dsn = (action: string, returned: string) =>
      mail(
        'From: MAILER-DAEMON@mx.example.com',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        '',
        '--r',
        'Content-Type: text/plain',
        '',
        'Delivery report.',
        '--r',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.com',
        '',
        'Final-Recipient: rfc822; ann@example.com',
        `Action: ${action}`,
        'Status: 5.1.1',
        '',
        '--r',
        returned,
        '--r--',
        '',
      );
    const headers =
      'Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours@shop.example>\r\nSubject: x\r\n';
    const full =
      'Content-Type: message/rfc822\r\n\r\nFrom: support@shop.example\r\nMessage-ID: <ours@shop.example>\r\n\r\nHi\r\n';
    assert.deepEqual(await parseInboundMail(dsn('failed', headers)), {
      messages: [],
      statuses: [{ providerMessageId: '<ours@shop.example>', status: 'failed', error: 'bounced (5.1.1)' }],
    });
    assert.deepEqual(
      (await parseInboundMail(dsn('failed', full))).statuses[0]?.providerMessageId,
      '<ours@shop.example>',
    );
    assert.deepEqual(await parseInboundMail(dsn('delivered', headers)), {
      messages: [],
      statuses: [{ providerMessageId: '<ours@shop.example>', status: 'delivered' }],
    });
    assert.deepEqual(await parseInboundMail(dsn('delayed', headers)), { messages: [], statuses: [] });
  });
});

describe('withoutQuotedHistory', () => {
  test('cuts the attribution line and the quote below it', () => {
    assert.equal(
      withoutQuotedHistory(
        'Yes please.\n\nOn Tue, 3 Jun 2025 at 09:00, Shop <s@shop.example> wrote:\n> Shall we?\n>\n> Shop',
      ),
      'Yes please.',
    );
    assert.equal(
      withoutQuotedHistory('Ja.\n\nAm 03.06.2025 um 09:00 schrieb Shop <s@shop.example>:\n> Sollen wir?'),
      'Ja.',
    );
    // Wrapped over two lines, as Gmail does with long names.
    assert.equal(
      withoutQuotedHistory(
        'Ok.\n\nOn Tue, 3 Jun 2025 at 09:00, A Very Long Support Team Name <s@shop.example>\nwrote:\n\n> Shall we?',
      ),
      'Ok.',
    );
  });

  test('cuts at an Outlook separator', () => {
    assert.equal(
      withoutQuotedHistory(
        'Thanks!\r\n\r\n-----Original Message-----\r\nFrom: Shop\r\nSent: Tuesday\r\n\r\nShall we?',
      ),
      'Thanks!',
    );
  });

  test('keeps answers written between quotes, and keeps everything when nothing new is left', () => {
    const inline = '> Which size?\nM, please.\n> Which colour?\nBlue.';
    assert.equal(withoutQuotedHistory(inline), inline);
    assert.equal(withoutQuotedHistory('> only a quote'), '> only a quote');
    // An attribution-like line followed by more than quotes is not history.
    const text = 'On Monday I wrote:\nthe lamp flickers.\nIt still does.';
    assert.equal(withoutQuotedHistory(text), text);
  });
});
