import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The core's own version; plugins declare a semver range against it. */
export const CORE_VERSION: string = pkg.version;
