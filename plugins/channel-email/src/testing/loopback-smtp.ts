// A real SMTP server on 127.0.0.1 for tests and the bench: it reads every mail the relay would,
// answers DATA the way the test says (250, a refusal, or nothing at all) and keeps what it got.
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  messageId: string | null;
  /** MAIL FROM and RCPT TO of the SMTP session. */
  envelopeFrom: string | null;
  envelopeTo: string[];
  /** The parsed headers and body; null when the server was started with `parse: false`. */
  from: { address: string; name: string } | null;
  to: string[];
  subject: string | null;
  text: string | null;
  html: string | null;
  inReplyTo: string | null;
  references: string[];
  raw: Buffer;
  /** What the server answered to DATA; null while it has not (or never will). */
  reply: number | null;
}

/** 250 accepts; a 4xx or 5xx refuses; `silent` never answers (the client decides what happens next). */
export type SmtpAnswer = { code: 250 } | { code: number; message: string } | 'silent';

export interface LoopbackSmtpOptions {
  /** The answer to a mail's DATA; `n` counts the mails seen with its Message-ID, from 1. */
  answer?: (mail: ReceivedMail, n: number) => SmtpAnswer | Promise<SmtpAnswer>;
  /** Refuses RCPT TO with this answer, e.g. 550 for an unknown mailbox. */
  refuseRecipient?: (address: string) => { code: number; message: string } | null;
  /** false skips mailparser (the bench measures the sender, not the test's parser). */
  parse?: boolean;
}

export interface LoopbackSmtp {
  url: string;
  received: ReceivedMail[];
  /** Mails with this Message-ID the server answered 250 to. */
  accepted(messageId: string): ReceivedMail[];
  close(): Promise<void>;
}

const MESSAGE_ID = /^Message-ID:\s*(<[^>\r\n]+>)/im;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startLoopbackSmtp(options: LoopbackSmtpOptions = {}): Promise<LoopbackSmtp> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: the relay's TLS is the relay's business, not what is tested here.
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 25 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const refusal = options.refuseRecipient?.(address.address);
      callback(refusal ? smtpError(refusal.code, refusal.message) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        try {
          const raw = Buffer.concat(chunks);
          const mail = await readMail(raw, options.parse ?? true);
          mail.envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
          mail.envelopeTo = session.envelope.rcptTo.map((r) => r.address);
          received.push(mail);
          const n = received.filter((m) => m.messageId === mail.messageId).length;
          const answer = (await options.answer?.(mail, n)) ?? { code: 250 };
          if (answer === 'silent') return;
          mail.reply = answer.code;
          if (answer.code === 250) callback(null);
          else callback(smtpError(answer.code, 'message' in answer ? answer.message : 'refused'));
        } catch (error) {
          callback(smtpError(451, `test server: ${(error as Error).message}`));
        }
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    accepted: (messageId) => received.filter((m) => m.messageId === messageId && m.reply === 250),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readMail(raw: Buffer, parse: boolean): Promise<ReceivedMail> {
  const base: ReceivedMail = {
    messageId: MESSAGE_ID.exec(raw.subarray(0, 8192).toString('latin1'))?.[1] ?? null,
    envelopeFrom: null,
    envelopeTo: [],
    from: null,
    to: [],
    subject: null,
    text: null,
    html: null,
    inReplyTo: null,
    references: [],
    raw,
    reply: null,
  };
  if (!parse) return base;
  const mail = await simpleParser(raw);
  const to = Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : [];
  const sender = mail.from?.value[0];
  return {
    ...base,
    messageId: mail.messageId ?? base.messageId,
    from: sender ? { address: sender.address ?? '', name: sender.name } : null,
    to: to.flatMap((a) => a.value.map((v) => v.address ?? '')),
    subject: mail.subject ?? null,
    text: mail.text ?? null,
    html: typeof mail.html === 'string' ? mail.html : null,
    inReplyTo: mail.inReplyTo ?? null,
    references: Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [],
  };
}
