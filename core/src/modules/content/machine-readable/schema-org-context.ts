/**
 * Tests expand our JSON-LD with the real `jsonld` processor, offline: this loader serves a minimal
 * stand-in for the schema.org context (`@vocab` plus the properties whose values are IRIs), so
 * `https://schema.org` never has to be fetched. The live context maps terms the same way
 * (`@vocab: http://schema.org/`), so types expand to the same IRIs, e.g. http://schema.org/FAQPage.
 */
export const schemaOrgContext = {
  '@context': {
    '@vocab': 'http://schema.org/',
    schema: 'http://schema.org/',
    url: { '@id': 'schema:url', '@type': '@id' },
    image: { '@id': 'schema:image', '@type': '@id' },
    logo: { '@id': 'schema:logo', '@type': '@id' },
    sameAs: { '@id': 'schema:sameAs', '@type': '@id' },
  },
};

const SCHEMA_ORG = /^https?:\/\/schema\.org\/?(docs\/jsonldcontext\.jsonld?)?$/;

/** A `documentLoader` for `jsonld` that knows schema.org and refuses everything else. */
export async function offlineDocumentLoader(url: string) {
  if (!SCHEMA_ORG.test(url)) throw new Error(`offline document loader: no copy of ${url}`);
  return { contextUrl: undefined, documentUrl: url, document: schemaOrgContext };
}
