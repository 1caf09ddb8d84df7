// Indexing documents/s and query p50/p95/p99 of the PostgreSQL search engine on BENCH_DOCS (default
// 50,000) generated help-centre articles (German and English), BENCH_QUERIES (default 500) queries:
// words, two-word queries, phrases, typos and filters. Beside them, baselines measured in the same
// run on the same table: a `select 1` round trip and a plain `ilike` scan, and the ratios.
// Aim: query p95 < 30 ms. Needs ATRIUM_TEST_DATABASE_URL; a fresh database is made and dropped.
import { randomUUID } from 'node:crypto';
import { createOrm, migrate } from '../src/db/orm.ts';
import { sql } from '../src/db/sql.ts';
import { createLogger } from '../src/kernel/logger.ts';
import { loadModules } from '../src/kernel/module-host.ts';
import { coreModules } from '../src/modules/index.ts';
import type { SearchDocument, SearchQuery } from '../src/search/engine.ts';
import { PostgresSearchEngine } from '../src/search/postgres.ts';
import { createTestDatabase } from '../src/testing/test-database.ts';

const DOCS = Number(process.env.BENCH_DOCS ?? 50_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 500);
const BATCH = 1000;

// A deterministic generator, so that two runs index the same articles.
let seed = 42;
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
}
/** Zipf-like: a few words are common, most are rare, as in real text. */
function pick<T>(items: readonly T[]): T {
  return items[Math.floor(items.length * random() ** 2.2)] as T;
}

const EN = `order orders delivery shipping return returns refund invoice payment account password customer
service parcel package tracking number address email newsletter warranty product products store pickup
gift card voucher discount coupon checkout cart basket price prices shipment carrier express standard business
days weeks hours support chat phone contact form claim claims defect damaged replacement exchange size sizes
colour color fabric cotton shoes jacket trousers dress shirt sweater socks boots sneakers bag backpack watch
jewellery sunglasses kitchen garden furniture lamp sofa table chair mattress pillow blanket towel cookware
knife pan pot kettle coffee machine vacuum cleaner washing dryer fridge oven microwave television laptop
tablet smartphone charger cable headphones speaker camera printer keyboard mouse monitor router battery
installation assembly instructions manual guide setup repair spare parts subscription membership loyalty
points reward rewards tier premium member benefits birthday offer sale clearance outlet stock availability
backorder preorder reservation appointment consultation fitting alteration engraving personalisation
wrapping receipt vat tax customs duties international europe germany austria switzerland france italy
spain netherlands belgium poland privacy data deletion consent cookies security fraud verification login
logout registration profile settings preferences notifications language currency mobile app website
browser error problem issue question answer help information update change cancel cancellation modify
confirm confirmation delay delayed lost missing wrong incorrect late early today tomorrow weekend holiday`
  .split(/\s+/)
  .filter(Boolean);
const DE = `bestellung bestellungen lieferung versand rücksendung rücksendungen erstattung rechnung zahlung
kundenkonto passwort kunde kundenservice paket sendung sendungsnummer adresse newsletter garantie
gewährleistung produkt produkte filiale abholung geschenkgutschein gutschein rabatt kasse warenkorb preis
preise zusteller express standard werktage wochen stunden hilfe chat telefon kontakt formular reklamation
mangel beschädigt ersatz umtausch größe größen farbe stoff baumwolle schuhe jacke hose kleid hemd pullover
socken stiefel turnschuhe tasche rucksack uhr schmuck sonnenbrille küche garten möbel lampe sofa tisch
stuhl matratze kissen decke handtuch kochgeschirr messer pfanne topf wasserkocher kaffeemaschine
staubsauger waschmaschine trockner kühlschrank backofen mikrowelle fernseher laptop tablet smartphone
ladegerät kabel kopfhörer lautsprecher kamera drucker tastatur maus monitor router akku installation
montage anleitung handbuch einrichtung reparatur ersatzteile abonnement mitgliedschaft treuepunkte prämie
prämien stufe mitglied vorteile geburtstag angebot ausverkauf lagerbestand verfügbarkeit vorbestellung
reservierung termin beratung anprobe änderung gravur personalisierung geschenkverpackung beleg
mehrwertsteuer zoll gebühren international europa deutschland österreich schweiz frankreich italien
datenschutz daten löschung einwilligung sicherheit betrug verifizierung anmeldung abmeldung registrierung
profil einstellungen benachrichtigungen sprache währung app webseite browser fehler problem frage antwort
information aktualisierung stornierung ändern bestätigen bestätigung verzögerung verspätet verloren fehlt
falsch heute morgen wochenende feiertag`
  .split(/\s+/)
  .filter(Boolean);
const FILLER_EN =
  'the a your our you we can will is are to of in for and with on at by from after before'.split(' ');
const FILLER_DE =
  'der die das ihre wir sie können wird ist sind zu von in für und mit auf bei nach vor'.split(' ');
const TAGS = ['billing', 'shipping', 'returns', 'account', 'privacy', 'stores', 'service', 'products'];

function sentence(words: string[], filler: string[], length: number): string {
  const out: string[] = [];
  for (let i = 0; i < length; i++) out.push(random() < 0.4 ? pick(filler) : pick(words));
  const text = out.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function article(i: number): SearchDocument {
  const german = random() < 0.5;
  const words = german ? DE : EN;
  const filler = german ? FILLER_DE : FILLER_EN;
  const title = sentence(words, [], 3 + Math.floor(random() * 5)).slice(0, -1);
  const sentences = 4 + Math.floor(random() * 8);
  const body = Array.from({ length: sentences }, () =>
    sentence(words, filler, 8 + Math.floor(random() * 10)),
  ).join(' ');
  const tags = [pick(TAGS), pick(TAGS)];
  return {
    id: `article-${i}`,
    locale: german ? 'de' : 'en',
    fields: { title, body, tags },
    filters: { tags, visibility: random() < 0.85 ? 'public' : 'internal' },
  };
}

function typo(word: string): string {
  const i = 1 + Math.floor(random() * (word.length - 2));
  return `${word.slice(0, i)}${word[i + 1] ?? ''}${word[i]}${word.slice(i + 2)}`;
}

function query(workspaceId: string): SearchQuery {
  const german = random() < 0.5;
  const words = german ? DE : EN;
  const locale = german ? 'de' : 'en';
  const kind = random();
  const base = { workspaceId, collections: ['articles'], locale, limit: 20 };
  if (kind < 0.35) return { ...base, query: pick(words) };
  if (kind < 0.6) return { ...base, query: `${pick(words)} ${pick(words)}` };
  if (kind < 0.7) return { ...base, query: `"${pick(words)} ${pick(words)}"` };
  if (kind < 0.85) {
    const long = words.filter((w) => w.length >= 6);
    return { ...base, query: typo(long[Math.floor(random() * long.length)] as string) };
  }
  return { ...base, query: pick(words), filters: { tags: pick(TAGS), visibility: 'public' } };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function timed(runs: number, work: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work(i);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const database = await createTestDatabase('atrium_bench');
const logger = createLogger('warn');
const orm = await createOrm({
  databaseUrl: database.url,
  modules: loadModules(coreModules, []),
  poolMax: 4,
  logger,
});
try {
  await migrate(orm);
  const engine = new PostgresSearchEngine({ orm, logger });
  const workspaceId = randomUUID();
  await engine.ensureCollection(workspaceId, 'articles', {
    searchable: ['title', 'body', 'tags'],
    filterable: ['tags', 'visibility'],
    localized: ['de', 'en'],
    synonyms: { voucher: ['gift card'], gutschein: ['geschenkgutschein'] },
  });

  const docs = Array.from({ length: DOCS }, (_, i) => article(i));
  const indexStarted = performance.now();
  for (let i = 0; i < docs.length; i += BATCH)
    await engine.index(workspaceId, 'articles', docs.slice(i, i + BATCH));
  const indexSeconds = (performance.now() - indexStarted) / 1000;
  await sql(orm.em.fork(), 'vacuum analyze search_document');
  await sql(orm.em.fork(), 'vacuum analyze search_term');

  const queries = Array.from({ length: QUERIES }, () => query(workspaceId));
  for (const q of queries.slice(0, 20)) await engine.search(q); // warm-up
  let hits = 0;
  const search = await timed(queries.length, async (i) => {
    hits += (await engine.search(queries[i] as SearchQuery)).hits.length;
  });
  const roundTrip = await timed(queries.length, () => sql(orm.em.fork(), 'select 1'));
  const ilike = await timed(Math.min(queries.length, 100), (i) =>
    sql(
      orm.em.fork(),
      `select doc_id from search_document where workspace_id = $1 and text ilike $2 limit 20`,
      [workspaceId, `%${(queries[i]?.query ?? '').replace(/"/g, '').split(' ')[0]}%`],
    ),
  );

  const row = (name: string, t: number[]) =>
    `${name.padEnd(34)} p50 ${percentile(t, 50).toFixed(2).padStart(7)} ms   p95 ${percentile(t, 95).toFixed(2).padStart(7)} ms   p99 ${percentile(t, 99).toFixed(2).padStart(7)} ms`;
  const p95 = percentile(search, 95);
  console.log(`PostgresSearchEngine on ${DOCS} articles (DE/EN), ${QUERIES} queries`);
  console.log(
    `indexing: ${Math.round(DOCS / indexSeconds)} documents/s (${indexSeconds.toFixed(1)} s, batches of ${BATCH})`,
  );
  console.log(row('search (words, phrases, typos, filters)', search));
  console.log(row('baseline: select 1 round trip', roundTrip));
  console.log(row('baseline: ilike scan, limit 20', ilike));
  console.log(
    `ratios at p95: search / round trip ${(p95 / percentile(roundTrip, 95)).toFixed(1)}x, search / ilike ${(p95 / percentile(ilike, 95)).toFixed(2)}x`,
  );
  console.log(`average hits per query: ${(hits / queries.length).toFixed(1)}`);
  console.log(`aim: p95 < 30 ms: ${p95 < 30 ? 'met' : 'MISSED'} (${p95.toFixed(2)} ms)`);
} finally {
  await orm.close();
  if (process.env.BENCH_KEEP_DATABASE) console.log(`kept: ${database.url}`);
  else await database.drop();
}
