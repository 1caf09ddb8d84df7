// The deployment's plugin list. Settings come from the environment (see docs/operations.md);
// options here are validated at boot against each plugin's config schema. Channels whose
// provider needs credentials are listed only when the environment has them, so the embedded
// default starts without any.

import { defineConfig } from '@atrium/core';
import { assistantPlugin } from '@atrium/plugin-assistant';
import { emailPlugin } from '@atrium/plugin-channel-email';
import { webchatPlugin } from '@atrium/plugin-channel-webchat';
import { whatsappPlugin } from '@atrium/plugin-channel-whatsapp';
import { webhooksPlugin } from '@atrium/plugin-webhooks';

const env = process.env;

export default defineConfig({
  plugins: [
    webhooksPlugin({ maxAttempts: 8, retryDelaySeconds: 5 }),
    webchatPlugin(),
    // Answers customers in every conversation unless ASSISTANT_ANSWER_CONVERSATIONS=false (then
    // only through GraphQL); without OLLAMA_URL it answers extractively and says so.
    assistantPlugin({ answerConversations: env.ASSISTANT_ANSWER_CONVERSATIONS !== 'false' }),
    ...(env.SMTP_URL ? [emailPlugin({ smtpUrl: env.SMTP_URL })] : []),
    ...(env.WHATSAPP_ACCESS_TOKEN && env.WHATSAPP_APP_SECRET
      ? [whatsappPlugin({ accessToken: env.WHATSAPP_ACCESS_TOKEN, appSecret: env.WHATSAPP_APP_SECRET })]
      : []),
  ],
});
