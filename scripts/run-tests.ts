// Runs the test suite with Node's built-in test runner: node scripts/run-tests.ts [files or dirs...]
// Without arguments it runs every **/*.test.ts under core/ and plugins/ (node_modules skipped).
// Each file runs in its own process, ATRIUM_TEST_CONCURRENCY files at a time (default 2), and is
// stopped after ATRIUM_TEST_FILE_TIMEOUT_MS (default 180000). Output is the spec reporter's, files in
// order; the last line is always `N passed, N failed` (`, N skipped` when some were skipped or todo).
// Exit code 1 when a test failed or when no test ran.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec, type TestEvent } from 'node:test/reporters';

const repoRoot = path.resolve(import.meta.dirname, '..');
const defaultDirs = ['core', 'plugins', 'deploy'].map((dir) => path.join(repoRoot, dir));
const skippedDirs = new Set(['node_modules', 'dist', '.turbo', '.atrium', '.git']);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`[atrium] ${name} must be a positive integer, got '${raw}'`);
    process.exit(2);
  }
  return value;
}

const concurrency = positiveInt('ATRIUM_TEST_CONCURRENCY', 2);
const fileTimeoutMs = positiveInt('ATRIUM_TEST_FILE_TIMEOUT_MS', 180_000);

function collect(target: string, out: string[]): void {
  const stats = statSync(target, { throwIfNoEntry: false });
  if (stats?.isFile()) {
    out.push(target);
    return;
  }
  if (!stats?.isDirectory()) return;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    if (skippedDirs.has(entry.name)) continue;
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) collect(full, out);
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(full);
  }
}

function testFiles(args: string[]): string[] {
  const files: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('-')) {
      console.error(
        `[atrium] unknown option ${arg}; usage: node scripts/run-tests.ts [test files or dirs...]`,
      );
      process.exit(2);
    }
    const target = path.resolve(arg);
    if (!statSync(target, { throwIfNoEntry: false })) {
      console.error(`[atrium] no such file or directory: ${arg}`);
      process.exit(2);
    }
    collect(target, files);
  }
  if (args.length === 0) for (const dir of defaultDirs) collect(dir, files);
  return [...new Set(files)].sort();
}

const counts = { passed: 0, failed: 0, skipped: 0 };
// Per file, per nesting depth: has a counted failure happened inside the suite open at that depth?
// A suite's own failure is counted only when none of its tests failed (e.g. it threw while being
// defined, or an after() hook failed), so one broken test is not counted twice.
const failedInside = new Map<string, boolean[]>();

function markFailed(file: string, nesting: number): void {
  counts.failed++;
  const flags = failedInside.get(file) ?? [];
  for (let depth = 0; depth < nesting; depth++) flags[depth] = true;
  failedInside.set(file, flags);
}

function count(event: TestEvent): void {
  if (event.type !== 'test:pass' && event.type !== 'test:fail') return;
  const { data } = event;
  const file = data.file ?? '';
  const flags = failedInside.get(file) ?? [];
  failedInside.set(file, flags);
  const somethingFailedInside = flags[data.nesting] === true;
  flags[data.nesting] = false;
  if (data.details.type === 'suite') {
    if (event.type === 'test:fail' && !somethingFailedInside) markFailed(file, data.nesting);
    return;
  }
  const skipped = data.skip !== undefined && data.skip !== false;
  const todo = data.todo !== undefined && data.todo !== false;
  if (skipped || todo) counts.skipped++;
  else if (event.type === 'test:pass') counts.passed++;
  else markFailed(file, data.nesting);
}

// One spec reporter for all files. Files run in parallel, but their output is shown file by file,
// in order: the oldest unfinished file streams live, the others are buffered until their turn.
const reporter = spec();
reporter.pipe(process.stdout);
const reporterDone = finished(reporter);

interface FileRun {
  file: string;
  buffered: TestEvent[];
  done: boolean;
}

const files = testFiles(process.argv.slice(2));
const runs: FileRun[] = files.map((file) => ({ file, buffered: [], done: false }));
let head = 0;

function show(fileRun: FileRun, event: TestEvent): void {
  if (runs[head] === fileRun) reporter.write(event);
  else fileRun.buffered.push(event);
}

function finish(fileRun: FileRun): void {
  fileRun.done = true;
  while (runs[head]?.done) {
    head++;
    const next = runs[head];
    if (!next) break;
    for (const event of next.buffered) reporter.write(event);
    next.buffered = [];
  }
}

async function runFile(fileRun: FileRun): Promise<void> {
  const signal = AbortSignal.timeout(fileTimeoutMs);
  const relative = path.relative(process.cwd(), fileRun.file);
  try {
    // No forceExit: under process isolation it drops a file's last verdicts before the parent reads
    // them (nodejs/node#64833), so counts were lower bounds. A file that leaks a handle (a pool, a
    // timer) now hangs until the file timeout and fails loudly, naming itself: fix the leak.
    const stream = run({
      files: [fileRun.file],
      isolation: 'process',
      concurrency: 1,
      signal,
    });
    for await (const event of stream as AsyncIterable<TestEvent>) {
      // Each run() ends with its own totals (diagnostics without a file, plan, summary): ours come last.
      if (event.type === 'test:diagnostic' && event.data.file === undefined) continue;
      if (event.type === 'test:plan' && event.data.file === undefined) continue;
      if (event.type === 'test:summary') continue;
      count(event);
      show(fileRun, event);
    }
    if (signal.aborted) {
      show(fileRun, {
        type: 'test:diagnostic',
        data: { nesting: 0, level: 'error', message: `${relative} was stopped after ${fileTimeoutMs} ms` },
      });
    }
  } catch (error) {
    markFailed(fileRun.file, 0);
    show(fileRun, {
      type: 'test:diagnostic',
      data: { nesting: 0, level: 'error', message: `${relative} could not be run: ${String(error)}` },
    });
  } finally {
    finish(fileRun);
  }
}

const started = performance.now();
let nextIndex = 0;
async function worker(): Promise<void> {
  for (let fileRun = runs[nextIndex++]; fileRun; fileRun = runs[nextIndex++]) await runFile(fileRun);
}
await Promise.all(Array.from({ length: Math.min(concurrency, runs.length) }, worker));

const seconds = ((performance.now() - started) / 1000).toFixed(1);
reporter.end({
  type: 'test:diagnostic',
  data: {
    nesting: 0,
    level: 'info',
    message: `${files.length} test file${files.length === 1 ? '' : 's'} in ${seconds}s`,
  },
});
await reporterDone;

if (files.length === 0) console.error('[atrium] no test files found');
else if (counts.passed + counts.failed === 0) console.error('[atrium] no test ran');
const skippedPart = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
process.stdout.write(`${counts.passed} passed, ${counts.failed} failed${skippedPart}\n`);
process.exitCode = counts.failed > 0 || counts.passed + counts.failed === 0 ? 1 : 0;
