// Browser benchmark: "Python (async)" against jupyterlite-pyodide-kernel 0.8.6 in ONE site.
//
//   node bench/browser/run.mjs [--runs 5] [--roundtrips 100] [--warmup 3] [--comm 500] [--settle 3]
//                              [--only async|python|plain|lite]
//
// Build the sites first (python3 bench/browser/build.py). The bench site is plain `jupyter lite
// build` output with both kernels (our wheel's addon and pyodide-kernel's). Two more sites are
// measured alongside, for first output only: `plain`, a site a user builds with plain `jupyter lite
// build` and our wheel in a fresh venv (scripts/plain-site.sh), and `lite`, our own lite/_output;
// plain's cold first output must be within 10 % of lite's. Sites are
// served by lite/serve.py (--no-isolation) on 127.0.0.1; Debian's /usr/bin/chromium is driven by
// playwright-core, with every host but 127.0.0.1 unresolvable and every request elsewhere
// recorded and counted.
//
// Per kernel and run, a fresh profile (temp dir):
//   cold  = navigation → first output of `print(1)` in the REPL app, profile empty;
//   warm  = the browser is closed and relaunched on the same profile (HTTP cache and V8/wasm
//           code cache kept), same measurement.
// "first output": the REPL URL carries `code=print(1)` (JupyterLite's REPL runs it once the
// console has its kernel); an in-page script (addInitScript) polls the DOM every 10 ms and
// records performance.now() (ms since navigation start) when the output "1" is rendered.
// Kernels are interleaved run by run so that load changes hit both alike. Each page is opened
// --settle seconds after the browser's launch: a freshly launched Chromium does start-up work of
// its own (Chromium 156 headless renders its omnibox popup WebUI, ~1.2 s of CPU in the first
// 1.3 s, seen in a trace), which a user's running browser did long before they open a link.
// Then, per kernel, in a fresh profile on lab/index.html (the REPL app does not expose
// window.jupyterapp): the page starts a kernel with jupyterapp.serviceManager.kernels.startNew
// and, through that KernelConnection, measures the execute round trip (requestExecute of
// `pass`, until reply + idle, i.e. `future.done`; median of N after 5 warm-ups) and comm echo
// throughput (an execute registers comm target bench_echo whose handler sends each message's
// data back; the page opens a comm and sends M comm_msgs, at most 100 unanswered at a time;
// M / (first send → last echo)).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const SITES = {
  bench: join(HERE, '_output'),
  plain: join(ROOT, 'build', 'plain-site', 'site'),
  lite: join(ROOT, 'lite', '_output')
};
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const KERNELS = [
  { key: 'async', name: 'async', label: 'ours (async)', site: 'bench' },
  { key: 'python', name: 'python', label: 'pyodide-kernel 0.8.6', site: 'bench' },
  { key: 'plain', name: 'async', label: 'ours, plain jupyter lite build', site: 'plain', firstOutputOnly: true },
  { key: 'lite', name: 'async', label: 'ours in lite/_output', site: 'lite', firstOutputOnly: true }
];
const FIRST_OUTPUT_TIMEOUT_MS = 240_000;
const STEP_TIMEOUT_MS = 120_000;

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    roundtrips: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '3' },
    settle: { type: 'string', default: '3' },
    comm: { type: 'string', default: '500' },
    only: { type: 'string' },
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' }
  }
});
const RUNS = Number(opts.runs);
const ROUNDTRIPS = Number(opts.roundtrips);
// seconds of `pass` executes before the round trips: a kernel that just started still has start-up
// work in the background (Chromium tiering up the wasm, the page settling), which is not a round trip's
const WARMUP_S = Number(opts.warmup);
const COMM_N = Number(opts.comm);
// seconds between the browser's launch and the page's navigation (see the top of this file)
const SETTLE_MS = Number(opts.settle) * 1000;
const settle = () => new Promise(resolve => setTimeout(resolve, SETTLE_MS));
const kernels = KERNELS.filter(k => !opts.only || k.key === opts.only);

const log = text => console.log(`[bench/browser] ${text}`);
const load = () => loadavg().map(x => x.toFixed(2)).join(' ');
const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: timeout after ${ms} ms`)), ms))
  ]);

/** Start lite/serve.py on a free port; resolves with { url, proc, errors }. */
function serve(site) {
  const proc = spawn(opts.python, [join(ROOT, 'lite', 'serve.py'), '--port', '0', '--no-isolation', '--dir', site], {
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const errors = [];
  proc.stderr.on('data', d => {
    for (const line of String(d).split('\n')) if (line.trim()) errors.push(line.trim());
  });
  return withTimeout(
    new Promise((res, rej) => {
      proc.stdout.on('data', d => {
        const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(String(d));
        if (m) res({ url: m[1], proc, errors });
      });
      proc.on('exit', code => rej(new Error(`serve.py exited with ${code}: ${errors.join(' | ')}`)));
    }),
    30_000,
    'serve.py start'
  );
}

// the same offline, headless flags as the Playwright tests
const ARGS = JSON.parse(readFileSync(join(ROOT, 'tests', 'e2e', 'chromium-args.json'), 'utf8'));

// Runs in the page before any of its scripts: stamp performance.now() (ms since navigation
// start) when the REPL console shows the output "1" of the `code=print(1)` URL parameter.
function probe() {
  const b = (window.__bench = { outputAt: null });
  const timer = setInterval(() => {
    for (const node of document.querySelectorAll('.jp-CodeConsole-content .jp-OutputArea-output')) {
      if (node.textContent.trim() === '1') {
        b.outputAt = performance.now();
        clearInterval(timer);
        return;
      }
    }
  }, 10);
}

async function launch(profile, offsite, failures, bytes = null) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 800 }
  });
  context.on('request', req => {
    const { protocol, hostname } = new URL(req.url());
    if (protocol.startsWith('http') && hostname !== '127.0.0.1') offsite.push(req.url());
  });
  context.on('requestfailed', req => failures.push(`${req.failure()?.errorText} ${req.url()}`));
  context.on('response', res => {
    // the apps ask for /favicon.ico, which no JupyterLite site has: not a failure
    if (res.status() >= 400 && !res.url().endsWith('/favicon.ico')) failures.push(`${res.status()} ${res.url()}`);
  });
  if (bytes) {
    // What went over the network: every response's body as received (encoded) and headers, once
    // (a response a service worker handed to the page is counted as the worker's own fetch).
    context.on('requestfinished', req => {
      bytes.pending.push(
        (async () => {
          const res = await req.response();
          if (!res || res.fromServiceWorker()) return;
          const sizes = await req.sizes();
          bytes.total += sizes.responseBodySize + sizes.responseHeadersSize;
          const path = new URL(req.url()).pathname;
          bytes.byPath.set(path, (bytes.byPath.get(path) ?? 0) + sizes.responseBodySize);
        })().catch(() => {})
      );
    });
  }
  await context.addInitScript(probe);
  return context;
}

/** Navigate and wait for the first output; returns { ms, page, phases }. */
async function firstOutput(context, url) {
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('pageerror', e => consoleErrors.push(e.message));
  // start-up phases the kernels log (ours: "[async-kernel N s] ..."; pyodide-kernel: "Loading ...")
  const phases = [];
  let navStart = Date.now();
  page.on('console', m => {
    const text = m.text();
    if (/^\[async-kernel|^Load(ing|ed) /.test(text)) phases.push(`${((Date.now() - navStart) / 1000).toFixed(1)} s ${text.slice(0, 90)}`);
  });
  await settle();
  navStart = Date.now();
  await page.goto(url, { timeout: 60_000 });
  try {
    await page.waitForFunction(() => window.__bench?.outputAt !== null, null, {
      timeout: FIRST_OUTPUT_TIMEOUT_MS,
      polling: 100
    });
  } catch (error) {
    const state = await page.evaluate(() => window.__bench).catch(() => null);
    throw new Error(`${error.message.split('\n')[0]}; probe ${JSON.stringify(state)}; page errors ${consoleErrors.slice(0, 3)}`);
  }
  const b = await page.evaluate(() => window.__bench);
  return { ms: b.outputAt, page, phases };
}

const ECHO_SETUP = `
import comm as _bench_comm
def _bench_target(c, open_msg):
    @c.on_msg
    def _echo(msg):
        c.send(msg["content"]["data"])
_bench_comm.get_comm_manager().register_target("bench_echo", _bench_target)
`;

/** Execute round trips and comm echo, driven from the page through a KernelConnection. */
async function inPageFigures(page, kernelName) {
  await page.waitForFunction(() => window.jupyterapp?.serviceManager, null, { timeout: 60_000, polling: 100 });
  return withTimeout(
    page.evaluate(
      async ({ name, roundtrips, warmupMs, n, setup }) => {
        const app = window.jupyterapp;
        const manager = app.serviceManager;
        await app.restored;
        await manager.ready;
        // the kernel plugins register their factories during start-up: wait for the spec
        for (let i = 0; i < 600 && !manager.kernelspecs.specs?.kernelspecs?.[name]; i++) {
          await new Promise(res => setTimeout(res, 100));
          await manager.kernelspecs.refreshSpecs().catch(() => {});
        }
        const t00 = performance.now();
        const kernel = await manager.kernels.startNew({ name });
        await kernel.info;
        const startMs = performance.now() - t00;
        const exec = code => kernel.requestExecute({ code, store_history: false }).done;
        const warm = performance.now();
        for (let i = 0; i < 5 || performance.now() - warm < warmupMs; i++) await exec('pass');
        const times = [];
        for (let i = 0; i < roundtrips; i++) {
          const t0 = performance.now();
          await exec('pass');
          times.push(performance.now() - t0);
        }
        const prints = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          await exec('for i in range(10000): print(i)');
          prints.push(performance.now() - t0);
        }
        const reply = await exec(setup);
        if (reply.content.status !== 'ok') return { startMs, times, prints, commError: JSON.stringify(reply.content) };
        const comm = kernel.createComm('bench_echo');
        let sent = 0;
        let got = 0;
        let t0 = 0;
        const done = new Promise(res => {
          const pump = () => {
            while (sent < n && sent - got < 100) {
              if (sent === 0) t0 = performance.now();
              comm.send({ i: sent++ });
            }
          };
          comm.onMsg = () => {
            got++;
            if (got === n) res(performance.now() - t0);
            else pump();
          };
          comm.open({});
          pump();
        });
        const timeout = new Promise(res => setTimeout(() => res(null), 60_000));
        const elapsed = await Promise.race([done, timeout]);
        return { startMs, times, prints, commMs: elapsed, commGot: got };
      },
      { name: kernelName, roundtrips: ROUNDTRIPS, warmupMs: WARMUP_S * 1000, n: COMM_N, setup: ECHO_SETUP }
    ),
    STEP_TIMEOUT_MS + FIRST_OUTPUT_TIMEOUT_MS,
    'kernel start + round trip + comm echo'
  );
}

function record(results, kernel) {
  return (results[kernel.key] ??= { cold: [], warm: [], bytes: [], errors: [], offsite: 0, failures: [] });
}

/** One run: cold then warm first output, in a fresh profile. */
async function firstOutputRun(server, kernel, run, results) {
  const url = `${server.url}/repl/index.html?kernel=${kernel.name}&toolbar=1&code=print(1)`;
  const r = record(results, kernel);
  const profile = mkdtempSync(join(tmpdir(), `bench-browser-${kernel.key}-`));
  const offsite = [];
  try {
    for (const phase of ['cold', 'warm']) {
      let context;
      const bytes = phase === 'cold' ? { total: 0, byPath: new Map(), pending: [] } : null;
      try {
        context = await launch(profile, offsite, r.failures, bytes);
        const { ms, phases } = await firstOutput(context, url);
        r[phase].push(ms);
        let downloaded = '';
        if (bytes) {
          await Promise.all(bytes.pending);
          r.bytes.push(bytes.total);
          downloaded = `, ${(bytes.total / 1e6).toFixed(1)} MB downloaded`;
        }
        log(`${kernel.key} run ${run} ${phase}: first output ${(ms / 1000).toFixed(2)} s${downloaded}, load ${load()}`);
        if (run === 1) for (const line of phases) log(`    ${line}`);
        if (run === 1 && bytes) {
          const largest = [...bytes.byPath].sort((a, b) => b[1] - a[1]).slice(0, 6);
          log(`    largest: ${largest.map(([path, n]) => `${path.split('/').pop()} ${(n / 1e6).toFixed(1)} MB`).join(', ')}`);
        }
      } catch (error) {
        r.errors.push(`run ${run} ${phase}: ${error.message}`);
        log(`${kernel.key} run ${run} ${phase} FAILED: ${error.message}`);
      } finally {
        await withTimeout(context?.close() ?? Promise.resolve(), 30_000, 'close').catch(() => {});
      }
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  r.offsite += offsite.length;
  if (offsite.length) log(`${kernel.key} run ${run}: ${offsite.length} requests outside 127.0.0.1, e.g. ${offsite.slice(0, 3).join(' ')}`);
}

async function inPageRun(server, kernel, results) {
  const r = record(results, kernel);
  const profile = mkdtempSync(join(tmpdir(), `bench-browser-${kernel.key}-`));
  const offsite = [];
  let context;
  try {
    context = await launch(profile, offsite, r.failures);
    const page = context.pages()[0] ?? (await context.newPage());
    // `kernel=` names the kernel under test: our extension prestarts its worker only on pages
    // likely to use it, so it does not compete for CPU while pyodide-kernel is measured.
    await settle();
    await page.goto(`${server.url}/lab/index.html?kernel=${kernel.name}`, { timeout: 60_000 });
    const f = await inPageFigures(page, kernel.name);
    r.startMs = f.startMs;
    r.roundtrip = f.times;
    r.prints = f.prints;
    r.commMs = f.commMs;
    r.commGot = f.commGot;
    if (f.commError) r.errors.push(`comm setup: ${f.commError}`);
    log(`${kernel.name} kernel start (lab, startNew → info) ${(f.startMs / 1000).toFixed(2)} s; round trip median ${median(f.times).toFixed(1)} ms; 10k prints ${f.prints.map(x => x.toFixed(0)).join(', ')} ms; comm echo ${f.commMs ? ((COMM_N / f.commMs) * 1000).toFixed(0) + ' msg/s' : `FAIL (${f.commGot}/${COMM_N} echoes)`}; load ${load()}`);
  } catch (error) {
    r.errors.push(`in-page figures: ${error.message}`);
    log(`${kernel.name} in-page figures FAILED: ${error.message}`);
  } finally {
    await withTimeout(context?.close() ?? Promise.resolve(), 30_000, 'close').catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  r.offsite += offsite.length;
  if (offsite.length) log(`${kernel.name} in-page: ${offsite.length} requests outside 127.0.0.1, e.g. ${offsite.slice(0, 3).join(' ')}`);
}

function table(results) {
  const fmtS = x => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : 'FAIL');
  const rows = [];
  const ours = results.async;
  const theirs = results.python;
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : '-');
  const line = (figure, get, fmt, target, ok) => {
    const a = ours ? get(ours) : NaN;
    const b = theirs ? get(theirs) : NaN;
    const verdict = ok && Number.isFinite(a) ? (ok(a, b) ? 'ok' : 'MISS') : '';
    rows.push([figure, fmt(a), fmt(b), ratio(a, b), target, verdict]);
  };
  const runsOf = xs => `(${xs.map(x => (x / 1000).toFixed(1)).join(', ')})`;
  line('cold first output (median)', r => median(r.cold), fmtS, '≤ 0.25× theirs', (a, b) => Number.isFinite(b) && a <= 0.25 * b);
  line('  runs', r => NaN, () => '', '', null);
  rows[rows.length - 1][1] = ours ? runsOf(ours.cold) : '';
  rows[rows.length - 1][2] = theirs ? runsOf(theirs.cold) : '';
  rows[rows.length - 1][3] = '';
  for (const key of ['plain', 'lite']) {
    if (results[key]) rows.push([`  ${KERNELS.find(k => k.key === key).label} ${runsOf(results[key].cold)}`, fmtS(median(results[key].cold)), '', '', '', '']);
  }
  if (results.plain && results.lite) {
    const a = median(results.plain.cold);
    const b = median(results.lite.cold);
    const ok = Number.isFinite(a) && Number.isFinite(b) && a <= 1.1 * b;
    rows.push(['  plain / lite/_output', '', '', ratio(a, b), '≤ 1.10', ok ? 'ok' : 'MISS']);
  }
  line('cold visit: bytes downloaded (median)', r => median(r.bytes), x => (Number.isFinite(x) ? `${(x / 1e6).toFixed(1)} MB` : 'FAIL'), '≤ 1.0× theirs', (a, b) => Number.isFinite(b) && a <= b);
  line('warm first output (median)', r => median(r.warm), fmtS, '≤ 3 s', a => a <= 3000);
  line('  runs', r => NaN, () => '', '', null);
  rows[rows.length - 1][1] = ours ? runsOf(ours.warm) : '';
  rows[rows.length - 1][2] = theirs ? runsOf(theirs.warm) : '';
  rows[rows.length - 1][3] = '';
  line('kernel start in lab (startNew → info)', r => r.startMs, fmtS, '', null);
  line(`execute round trip (median of ${ROUNDTRIPS})`, r => median(r.roundtrip ?? []), x => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'FAIL'), '≤ 0.5× theirs', (a, b) => Number.isFinite(b) && a <= 0.5 * b);
  line('10k-print cell (median of 3)', r => median(r.prints ?? []), x => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'FAIL'), '', null);
  line(`comm echo (${COMM_N} msgs)`, r => (r.commMs ? (COMM_N / r.commMs) * 1000 : NaN), x => (Number.isFinite(x) ? `${x.toFixed(0)} msg/s` : 'FAIL'), '', null);
  line('requests outside 127.0.0.1', r => r.offsite ?? 0, x => (Number.isFinite(x) ? String(x) : '-'), '0', a => a === 0);
  rows[rows.length - 1][3] = '';
  const head = ['figure', 'ours (async)', 'pyodide-kernel 0.8.6', 'ours/theirs', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => String(r[i]).length)));
  const fmtRow = r => '| ' + r.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
  console.log(fmtRow(head));
  console.log('|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(fmtRow(r));
}

async function main() {
  log(`chromium ${CHROMIUM}, ${RUNS} runs per kernel, load average ${load()}`);
  const servers = {};
  const results = {};
  try {
    for (const site of new Set(kernels.map(k => k.site))) {
      servers[site] = await serve(SITES[site]);
      log(`serving ${SITES[site]} at ${servers[site].url} (not isolated)`);
    }
    for (let run = 1; run <= RUNS; run++) {
      for (const kernel of kernels) await firstOutputRun(servers[kernel.site], kernel, run, results);
    }
    for (const kernel of kernels.filter(k => !k.firstOutputOnly)) await inPageRun(servers[kernel.site], kernel, results);
  } finally {
    for (const server of Object.values(servers)) server.proc.kill();
  }
  log(`load average after: ${load()}`);
  table(results);
  for (const [name, r] of Object.entries(results)) {
    for (const e of r?.errors ?? []) log(`${name} error: ${e}`);
    const failed = [...new Set(r?.failures ?? [])];
    if (failed.length) log(`${name} failed requests (${failed.length} distinct): ${failed.slice(0, 10).join(' | ')}`);
  }
  const serverErrors = Object.values(servers).flatMap(server => server.errors).filter(line => !line.includes('/favicon.ico'));
  if (serverErrors.length) log(`server errors: ${serverErrors.slice(0, 10).join(' | ')}`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
