// The deployment's plugin list. Settings come from the environment (see docs/operations.md);
// options here are validated at boot against each plugin's config schema.
import { defineConfig } from '@atrium/core';
import { webhooksPlugin } from '@atrium/plugin-webhooks';

export default defineConfig({
  plugins: [webhooksPlugin({ maxAttempts: 8, retryDelaySeconds: 5 })],
});
