import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { encodeSegment } from '../auth/jwt.ts';

/**
 * A STAND-IN for a Keycloak realm's signing side: it serves the realm's JWKS at Keycloak's
 * certs path and signs RS256 access tokens like Keycloak's. It exists so that the
 * keycloak-connect verification path is tested before the real Keycloak joins CI (issue 8);
 * it is not Keycloak and is never used outside tests.
 */
export class StandInOidcIssuer {
  readonly realm: string;
  #server: Server | null = null;
  #keys: { kid: string; privateKey: KeyObject; publicKey: KeyObject }[] = [];
  issuerUrl = '';
  certsRequests = 0;

  constructor(realm = 'atrium') {
    this.realm = realm;
    this.rotateKey();
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      if (req.url === `/realms/${this.realm}/protocol/openid-connect/certs`) {
        this.certsRequests += 1;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            keys: this.#keys.map((k) => ({
              ...k.publicKey.export({ format: 'jwk' }),
              kid: k.kid,
              alg: 'RS256',
              use: 'sig',
            })),
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.issuerUrl = `http://127.0.0.1:${port}/realms/${this.realm}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  /** Adds a new signing key and makes it current; older keys stay published, as Keycloak does. */
  rotateKey(): string {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = `k${this.#keys.length + 1}-${Math.random().toString(36).slice(2, 8)}`;
    this.#keys.push({ kid, privateKey, publicKey });
    return kid;
  }

  /** Signs an access token with Keycloak's usual claims; `claims` overrides any of them. */
  sign(claims: Record<string, unknown>, options: { kid?: string; privateKey?: KeyObject } = {}): string {
    const key = this.#keys.find((k) => k.kid === options.kid) ?? this.#keys.at(-1);
    if (!key) throw new Error('no signing key');
    const now = Math.floor(Date.now() / 1000);
    const head = encodeSegment({ alg: 'RS256', typ: 'JWT', kid: key.kid });
    const body = encodeSegment({
      iss: this.issuerUrl,
      typ: 'Bearer',
      iat: now,
      exp: now + 300,
      sub: crypto.randomUUID(),
      azp: 'atrium-api',
      aud: ['atrium-api', 'account'],
      preferred_username: 'test-user',
      ...claims,
    });
    const signer = createSign('RSA-SHA256');
    signer.update(`${head}.${body}`);
    return `${head}.${body}.${signer.sign(options.privateKey ?? key.privateKey, 'base64url')}`;
  }
}
