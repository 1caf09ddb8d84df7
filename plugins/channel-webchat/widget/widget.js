// @ts-check
// Atrium web chat widget: plain DOM, no dependencies. Embed with
// <script src="https://atrium.example/plugins/channel-webchat/widget.js" data-inbox="<id>" data-locale="de" async></script>
(() => {
  const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  const w = /** @type {any} */ (window);
  if (!script || w.AtriumChat) return;
  const inboxId = script.dataset.inbox ?? '';
  const locale = script.dataset.locale || navigator.language || 'en';
  const lang = locale.toLowerCase().startsWith('de') ? 'de' : 'en';
  const pluginUrl = new URL('./', script.src);
  const graphqlUrl = new URL('../../public/graphql', pluginUrl).href;
  const storageKey = `atrium-chat:${inboxId}`;

  const text = {
    en: {
      launcher: 'Chat with us',
      title: 'Chat',
      messages: 'Messages',
      close: 'Close chat',
      input: 'Your message',
      send: 'Send',
      customer: 'You',
      agent: 'Support',
      assistant: 'AI assistant',
      system: 'Notice',
      typing: (/** @type {string} */ who) => `${who} is typing…`,
      greeting: 'Hello! How can we help?',
      offline: 'Connection lost. Reconnecting…',
      failed: 'Not sent yet. Trying again…',
    },
    de: {
      launcher: 'Chatten Sie mit uns',
      title: 'Chat',
      messages: 'Nachrichten',
      close: 'Chat schließen',
      input: 'Ihre Nachricht',
      send: 'Senden',
      customer: 'Sie',
      agent: 'Kundenservice',
      assistant: 'KI-Assistent',
      system: 'Hinweis',
      typing: (/** @type {string} */ who) => `${who} schreibt …`,
      greeting: 'Hallo! Wie können wir helfen?',
      offline: 'Verbindung unterbrochen. Neuer Versuch …',
      failed: 'Noch nicht gesendet. Neuer Versuch …',
    },
  }[lang];

  const MESSAGE = 'id author authorName text createdAt';

  // ---- DOM (in a shadow root, so the shop's styles and ours stay apart) ----
  const host = document.createElement('div');
  host.setAttribute('data-atrium-chat', '');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>
:host{all:initial;font:15px/1.4 system-ui,sans-serif;color:#1b1b1f}
*{box-sizing:border-box;font:inherit}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:24px;padding:12px 20px;background:#1d4ed8;color:#fff;cursor:pointer}
.panel{position:fixed;right:20px;bottom:80px;z-index:2147483000;width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 120px));display:flex;flex-direction:column;background:#fff;border:1px solid #8a8a94;border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.25)}
.panel[hidden]{display:none}
header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;border-bottom:1px solid #d4d4da}
h2{margin:0;font-weight:600}
.close{border:0;background:none;font-size:22px;line-height:1;padding:4px 8px;cursor:pointer;border-radius:6px}
ol{list-style:none;margin:0;padding:12px;flex:1;overflow-y:auto}
li{margin:0 0 10px;max-width:85%}
li.customer{margin-left:auto;text-align:right}
.who{display:block;font-size:12px;color:#4b4b55}
.body{display:inline-block;white-space:pre-wrap;word-break:break-word;padding:8px 10px;border-radius:10px;background:#eef0f4;text-align:left}
li.customer .body{background:#1d4ed8;color:#fff}
li.failed .body{background:#fde2e2;color:#7a1010}
.status{min-height:20px;margin:0;padding:0 14px;font-size:12px;color:#4b4b55}
form{display:flex;gap:8px;align-items:flex-end;padding:10px 14px;border-top:1px solid #d4d4da}
label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
textarea{flex:1;resize:none;border:1px solid #8a8a94;border-radius:8px;padding:8px}
.send{border:0;border-radius:8px;padding:9px 14px;background:#1d4ed8;color:#fff;cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
</style>
<button type="button" class="launcher" aria-expanded="false" aria-controls="atrium-chat-panel"></button>
<section class="panel" id="atrium-chat-panel" role="dialog" aria-labelledby="atrium-chat-title" hidden>
<header><h2 id="atrium-chat-title"></h2><button type="button" class="close"><span aria-hidden="true">×</span></button></header>
<ol class="log" role="log" aria-live="polite" aria-relevant="additions" tabindex="0"></ol>
<p class="status" role="status"></p>
<form><label for="atrium-chat-input"></label><textarea id="atrium-chat-input" rows="2" maxlength="5000"></textarea><button type="submit" class="send"></button></form>
</section>`;
  const $ = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (root.querySelector(selector));
  const launcher = /** @type {HTMLButtonElement} */ ($('.launcher'));
  const panel = $('.panel');
  const closeButton = $('.close');
  const log = $('.log');
  const status = $('.status');
  const form = /** @type {HTMLFormElement} */ ($('form'));
  const input = /** @type {HTMLTextAreaElement} */ ($('textarea'));
  launcher.textContent = text.launcher;
  $('h2').textContent = text.title;
  closeButton.setAttribute('aria-label', text.close);
  $('label').textContent = text.input;
  $('.send').textContent = text.send;
  log.setAttribute('aria-label', text.messages);
  (document.body ?? document.documentElement).appendChild(host);

  // ---- session (sessionStorage: it ends with the tab) ----
  /** @typedef {{ token: string, expiresAt: string, greeting: string | null }} Session */
  /** @type {Session | null} */
  let session = null;
  try {
    const stored = JSON.parse(sessionStorage.getItem(storageKey) ?? 'null');
    if (stored && new Date(stored.expiresAt) > new Date()) session = stored;
  } catch {}
  /** @type {{ userId: string, userHash: string } | null} */
  let pendingIdentity = null;

  /** @type {Promise<Session> | null} */
  let opening = null;
  /** @returns {Promise<Session>} */
  function ensureSession() {
    if (session) return Promise.resolve(session);
    opening ??= openSession().finally(() => {
      opening = null;
    });
    return opening;
  }

  async function openSession() {
    const response = await fetch(new URL('sessions', pluginUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inboxId, locale }),
    });
    if (!response.ok) throw new Error(`chat session refused (${response.status})`);
    const body = await response.json();
    const opened = { token: body.token, expiresAt: body.expiresAt, greeting: body.greeting };
    session = opened;
    store(opened);
    // A refused identity leaves the visitor anonymous; the chat itself still works.
    if (pendingIdentity) await identify(pendingIdentity.userId, pendingIdentity.userHash).catch(() => {});
    return opened;
  }

  function dropSession() {
    session = null;
    store(null);
  }

  /** @param {Session | null} value sessionStorage may be switched off: then the session lasts the page */
  function store(value) {
    try {
      if (value) sessionStorage.setItem(storageKey, JSON.stringify(value));
      else sessionStorage.removeItem(storageKey);
    } catch {}
  }

  class SessionLost extends Error {}

  /** @param {string} query @param {Record<string, unknown>} [variables] */
  async function graphql(query, variables) {
    const { token } = await ensureSession();
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    if (response.status === 401) {
      dropSession();
      throw new SessionLost('the chat session ended');
    }
    const body = await response.json();
    if (body.errors?.length) throw new Error(body.errors[0].message);
    return body.data;
  }

  // ---- messages ----
  /** @typedef {{ id: string, author: string, authorName: string | null, text: string | null, createdAt: string }} Message */
  const shown = new Map();

  /** @param {Message} message @param {HTMLLIElement} [replacing] */
  function show(message, replacing) {
    if (shown.has(message.id)) {
      replacing?.remove();
      return;
    }
    const item = replacing ?? document.createElement('li');
    const author = message.author.toLowerCase();
    item.className = author;
    item.dataset.createdAt = message.createdAt;
    const label =
      author === 'agent'
        ? message.authorName || text.agent
        : (text[/** @type {'customer'} */ (author)] ?? text.agent);
    item.replaceChildren(span('who', label), span('body', message.text ?? ''));
    shown.set(message.id, item);
    if (!replacing) {
      // Keep time order when a page loads after live messages arrived.
      const later = [...log.querySelectorAll('li')].find(
        (li) => (li.dataset.createdAt ?? '') > message.createdAt,
      );
      log.insertBefore(item, later ?? null);
    }
    log.scrollTop = log.scrollHeight;
    if (message.author !== 'CUSTOMER') setTyping(null);
  }

  /** @param {string} className @param {string} content */
  function span(className, content) {
    const element = document.createElement('span');
    element.className = className;
    element.textContent = content;
    return element;
  }

  async function loadConversation() {
    const data = await graphql(
      `{ webchatConversation { messages(first: 50) { edges { node { ${MESSAGE} } } } } }`,
    );
    const edges = data.webchatConversation?.messages.edges ?? [];
    for (const edge of [...edges].reverse()) show(edge.node);
  }

  /** @param {string} body */
  async function send(body) {
    const key = crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const pending = document.createElement('li');
    pending.className = 'customer';
    pending.dataset.createdAt = new Date().toISOString();
    pending.replaceChildren(span('who', text.customer), span('body', body));
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    // The same key on every try: the server stores the message once however often we retry.
    for (let attempt = 0; ; attempt++) {
      try {
        const data = await graphql(
          `mutation ($input: SendWebchatMessageInput!) { sendWebchatMessage(input: $input) {
             __typename ... on SendWebchatMessagePayload { sentMessage { ${MESSAGE} } } ... on Error { message } } }`,
          { input: { text: body, idempotencyKey: key, language: lang } },
        );
        const result = data.sendWebchatMessage;
        if (result.__typename === 'SendWebchatMessagePayload') {
          show(result.sentMessage, pending);
          status.textContent = '';
        } else {
          // Refused for a reason a retry cannot fix: say so, keep the text visible.
          pending.classList.add('failed');
          status.textContent = result.message;
        }
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        status.textContent = text.failed;
        await sleep(1000 * 2 ** attempt);
      }
    }
  }

  // ---- typing ----
  let typingTimer = 0;
  /** @param {string | null} who */
  function setTyping(who) {
    clearTimeout(typingTimer);
    status.textContent = who ? text.typing(who) : '';
    if (who) typingTimer = window.setTimeout(() => setTyping(null), 6000);
  }
  let lastTypingSent = 0;
  input.addEventListener('input', () => {
    if (!session || Date.now() - lastTypingSent < 3000) return;
    lastTypingSent = Date.now();
    graphql('mutation { sendWebchatTyping(input: { typing: true }) { delivered } }').catch(() => {});
  });

  // ---- live events: GraphQL subscription as server-sent events over a POST ----
  /** @type {AbortController | null} */
  let streaming = null;

  async function stream() {
    streaming?.abort();
    const controller = new AbortController();
    streaming = controller;
    let delay = 1000;
    while (!controller.signal.aborted) {
      try {
        const { token } = await ensureSession();
        const response = await fetch(graphqlUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
          },
          body: JSON.stringify({
            query: `subscription { webchatEvents { kind typing author authorName message { ${MESSAGE} } } }`,
          }),
          signal: controller.signal,
        });
        if (response.status === 401) {
          dropSession();
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`stream refused (${response.status})`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            onEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
          delay = 1000;
        }
        // The server ends streams after a while: reconnect at once.
      } catch {
        if (controller.signal.aborted) return;
        status.textContent = text.offline;
        await sleep(delay + Math.random() * 500);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /** @param {string} block one server-sent event */
  function onEvent(block) {
    const lines = block.split('\n');
    if (!lines.includes('event: next')) return;
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5))
      .join('\n');
    const event = JSON.parse(data)?.data?.webchatEvents;
    if (!event) return;
    if (event.kind === 'READY') {
      if (status.textContent === text.offline) status.textContent = '';
      loadConversation().catch(() => {});
    } else if (event.kind === 'MESSAGE' && event.message) show(event.message);
    else if (event.kind === 'TYPING') {
      const who = event.author === 'ASSISTANT' ? text.assistant : event.authorName || text.agent;
      setTyping(event.typing ? who : null);
    }
  }

  // ---- open, close, keyboard ----
  let started = false;
  async function openPanel() {
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    input.focus();
    if (started) return;
    started = true;
    try {
      const { greeting } = await ensureSession();
      if (!log.querySelector('.greeting')) {
        const item = document.createElement('li');
        item.className = 'greeting system';
        item.dataset.createdAt = '';
        item.replaceChildren(span('body', greeting || text.greeting));
        log.prepend(item);
      }
      stream();
    } catch {
      started = false;
      status.textContent = text.offline;
    }
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
  }

  launcher.addEventListener('click', () => (panel.hidden ? openPanel() : closePanel()));
  closeButton.addEventListener('click', closePanel);
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closePanel();
    }
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    lastTypingSent = 0;
    send(body).catch(() => {
      status.textContent = text.offline;
    });
  });

  /** @param {number} ms */
  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /**
   * The shop calls this after its own login, with the hash its backend computed
   * (HMAC-SHA256 of the user id, keyed with the inbox secret).
   * @param {string} userId @param {string} userHash
   */
  async function identify(userId, userHash) {
    pendingIdentity = { userId, userHash };
    if (!session) return;
    const response = await fetch(new URL('identify', pluginUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ userId, userHash }),
    });
    pendingIdentity = null;
    if (response.status === 401) dropSession();
    if (!response.ok) throw new Error(`identify refused (${response.status})`);
    // The visitor now acts as the known customer: listen and read as them.
    if (started) stream();
  }

  /** The shop calls this at its own logout: the session ends here and on the server. */
  async function logout() {
    streaming?.abort();
    started = false;
    pendingIdentity = null;
    if (session) await graphql('mutation { endCustomerSession { endedAt } }').catch(() => {});
    dropSession();
    shown.clear();
    log.replaceChildren();
    closePanel();
  }

  w.AtriumChat = { open: openPanel, close: closePanel, identify, logout };
})();
