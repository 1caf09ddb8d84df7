import { devTokenSecret, signDevToken } from '../auth/dev-tokens.ts';
import { isScope, scopeNames } from '../auth/scopes.ts';
import { loadConfig } from '../kernel/config.ts';
import { ConfigError, ValidationError } from '../kernel/errors.ts';

/** `atrium token`: one line, a dev token the local server accepts. Never in production. */
export async function tokenCommand(options: {
  role?: string;
  workspace?: string;
  subject?: string;
  ttl?: string;
}): Promise<void> {
  // The same settings as `atrium start` (environment and atrium.config.ts), so the secret matches.
  const { settings } = await loadConfig();
  if (settings.NODE_ENV === 'production' || !settings.AUTH_DEV_TOKENS) {
    throw new ConfigError(
      'AUTH_DEV_TOKENS',
      'dev tokens are disabled here (always in production); use Keycloak',
    );
  }
  if (!options.role || !isScope(options.role)) {
    throw new ValidationError(`--role must be one of ${scopeNames.join(', ')}`, 'role');
  }
  if (!options.workspace) throw new ValidationError('--workspace is required (e.g. demo)', 'workspace');
  const ttlSeconds = options.ttl ? Number(options.ttl) : undefined;
  if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)) {
    throw new ValidationError('--ttl must be a positive number of seconds', 'ttl');
  }
  const secret = devTokenSecret(settings.ATRIUM_DATA_DIR);
  console.log(
    signDevToken(secret, {
      role: options.role,
      workspace: options.workspace,
      subject: options.subject,
      ttlSeconds,
    }),
  );
}
