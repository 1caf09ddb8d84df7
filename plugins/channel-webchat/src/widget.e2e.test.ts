// The widget in a real browser: headless Chromium (Debian's, never a downloaded one) opens a shop
// page on its own origin that embeds the script from the Atrium test server.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '@atrium/core/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { userHashOf } from './identity.ts';
import { webchatPlugin } from './index.ts';
import { createWebchatInbox, openVisitor, postIdentify, type WebchatTestInbox } from './test-support.ts';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// The machine's network is closed: Chromium must not try its background connections.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let env: TestEnvironment;
let agent: GraphQLClient;
let inbox: WebchatTestInbox;
let shop: Server;
let shopUrl: string;
let browser: BrowserContext;
let userDataDir: string;

/** A shop page with one script tag, as the docs tell shops to embed it. */
function shopPage(locale: string): string {
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><a href="#products">Produkte</a>
<script src="${env.url}/plugins/channel-webchat/widget.js" data-inbox="${inbox.rowId}" data-locale="${locale}" async></script>
</body></html>`;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run bash deploy/local/chromium.sh`);
  env = await createTestEnvironment({ plugins: [webchatPlugin()] });
  agent = env.adminClient.withToken(env.token('agent'));
  shop = createServer((req, res) => {
    const locale = new URL(req.url ?? '/', 'http://shop').searchParams.get('locale') ?? 'de';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(shopPage(locale));
  });
  await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  const address = shop.address();
  shopUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  inbox = await createWebchatInbox(env.adminClient.withToken(env.token('admin')), {
    allowedOrigins: [shopUrl],
    greeting: { de: 'Willkommen! Wie können wir helfen?', en: 'Welcome! How can we help?' },
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'atrium-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
});

after(async () => {
  await browser?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((resolve) => shop?.close(resolve));
  await env?.destroy();
});

/** True when `selector` (inside the widget's shadow root) has the focus. */
function focused(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((s) => {
    const root = document.querySelector('[data-atrium-chat]')?.shadowRoot;
    return !!root && root.activeElement === root.querySelector(s);
  }, selector);
}

describe('the web chat widget in Chromium', () => {
  test('keyboard only: open, write, send with Enter, read the agent’s reply, close with Escape (German)', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await page.goto(`${shopUrl}/?locale=de`);
      const launcher = page.getByRole('button', { name: 'Chatten Sie mit uns' });
      await launcher.waitFor({ timeout: 15_000 });

      // Tab from the page's own link to the launcher, then Enter.
      for (let i = 0; i < 6 && !(await focused(page, '.launcher')); i++) await page.keyboard.press('Tab');
      assert.ok(await focused(page, '.launcher'), 'the launcher is reachable with Tab');
      await page.keyboard.press('Enter');
      const input = page.getByRole('textbox', { name: 'Ihre Nachricht' });
      await input.waitFor();
      assert.equal(await launcher.getAttribute('aria-expanded'), 'true');
      await waitFor(() => focused(page, 'textarea'), 5000, 'the textarea to have the focus');
      await page.getByText('Willkommen! Wie können wir helfen?').waitFor({ timeout: 10_000 });

      // German labels throughout.
      assert.ok(await page.getByRole('button', { name: 'Senden' }).isVisible());
      assert.ok(await page.getByRole('button', { name: 'Chat schließen' }).isVisible());
      assert.equal(await page.getByRole('log').getAttribute('aria-live'), 'polite');

      // Shift+Enter is a new line; Enter sends.
      await page.keyboard.type('Hallo aus dem Browser,');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('wo ist mein Paket?');
      assert.equal(await input.inputValue(), 'Hallo aus dem Browser,\nwo ist mein Paket?');
      await page.keyboard.press('Enter');
      assert.equal(await input.inputValue(), '');

      // The agent finds the conversation in the Admin graph and replies.
      const conversationId = await waitFor(
        async () => {
          const data = await agent.ok(
            `{ inbox(filter: { search: "wo ist mein Paket" }) { edges { node { id } } } }`,
          );
          return data.inbox.edges[0]?.node.id as string | undefined;
        },
        15_000,
        'the conversation in the agent inbox',
      );
      const replied = await agent.ok(
        `mutation ($input: ReplyToConversationInput!) {
          replyToConversation(input: $input) { __typename ... on Error { message } }
        }`,
        { input: { conversationId, text: 'Ihr Paket kommt morgen.' } },
      );
      assert.equal(
        replied.replyToConversation.__typename,
        'ReplyToConversationPayload',
        JSON.stringify(replied),
      );

      await page.getByText('Ihr Paket kommt morgen.').waitFor({ timeout: 15_000 });
      const reply = page.getByRole('listitem').filter({ hasText: 'Ihr Paket kommt morgen.' });
      assert.match((await reply.textContent()) ?? '', /Kundenservice/);
      assert.ok(await page.getByRole('listitem').filter({ hasText: 'wo ist mein Paket?' }).isVisible());

      // Escape closes the panel and gives the focus back to the launcher.
      await input.focus();
      await page.keyboard.press('Escape');
      assert.equal(await input.isVisible(), false);
      assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
      assert.ok(await focused(page, '.launcher'), 'the focus is back on the launcher');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test('AtriumChat.identify after the shop’s login: the chat joins the customer’s profile', async () => {
    const userId = `user-${crypto.randomUUID()}`;
    // The shop knows this customer already: they chatted before, signed in.
    const earlier = await openVisitor(env, inbox, {}, null);
    const known = await postIdentify(
      env,
      earlier.token,
      { userId, userHash: userHashOf(userId, inbox.secret) },
      null,
    );
    assert.equal(known.status, 200, JSON.stringify(known.body));

    const page = await browser.newPage();
    try {
      await page.goto(`${shopUrl}/?locale=en`);
      const launcher = page.getByRole('button', { name: 'Chat with us' });
      await launcher.click();
      const input = page.getByRole('textbox', { name: 'Your message' });
      await input.fill('Written before signing in');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.getByRole('listitem').filter({ hasText: 'Written before signing in' }).waitFor();
      const userHash = userHashOf(userId, inbox.secret); // what the shop's backend computes
      await page.evaluate(
        ([id, hash]) =>
          (
            window as unknown as { AtriumChat: { identify: (a: string, b: string) => Promise<void> } }
          ).AtriumChat.identify(id as string, hash as string),
        [userId, userHash],
      );
      // The message written anonymously is now in the signed-in customer's conversation.
      await waitFor(
        async () => {
          const data = await agent.ok(`{ inbox(filter: { search: "Written before signing in" }) {
            edges { node { profile { identities { type value } } } } } }`);
          const identities: { type: string; value: string }[] =
            data.inbox.edges[0]?.node.profile?.identities ?? [];
          return identities.some((i) => i.type === 'USER_ID' && i.value === userId);
        },
        15_000,
        'the conversation on the customer’s profile',
      );
    } finally {
      await page.close();
    }
  });
});
