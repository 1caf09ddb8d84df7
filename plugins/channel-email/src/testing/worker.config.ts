// The config of the `atrium worker` processes the crash test spawns: the e-mail plugin on the
// test's loopback SMTP server.
import { defineConfig } from '@atrium/core';
import { emailPlugin } from '../index.ts';

export default defineConfig({
  plugins: [emailPlugin({ smtpUrl: process.env.EMAIL_TEST_SMTP_URL ?? 'smtp://127.0.0.1:25' })],
});
