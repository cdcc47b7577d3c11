#!/usr/bin/env node
// Browser test of the landing page (packaging/www) in Debian's Chromium, driven by
// playwright-core. Serves the page from a static server on 127.0.0.1 that records every
// request it receives, so the test can say what reached the server and what never did.
//
//   node tests/www/landing.test.mjs [--screenshot FILE] [--verbose]
//
// Needs /usr/bin/chromium (apt-get install chromium) and playwright-core
// (npm ci --prefix tests/www); without either it exits 77, meson's "skipped".
// --screenshot FILE saves the page showing a token at 800x600 (docs/landing-page.png).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WWW = path.resolve(HERE, '../../packaging/www');
const CHROMIUM = process.env.SESAME_CHROMIUM || '/usr/bin/chromium';
const PLAYWRIGHT = path.join(HERE, 'node_modules', 'playwright-core');
const SKIP = 77;
const DEADLINE_MS = 240_000;

// Golden vector 1 of docs/token-format.md and one more well-formed token.
const TOKEN = 'SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT';
const TOKEN2 = 'SSM1R40001EXD5AVJ045M00A38N3MJJTD6T9F58MCTQGHY70QE43AAC8ZY8B';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'none'; " +
  "connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
const PAGE_FILES = new Set(['/', '/index.html', '/landing.js', '/landing.css']);
// Under /renamed/ the server rewrites the page's sesame-param meta to "login", as an
// admin would for a module configured with param=login.
const RENAMED = '/renamed/';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const shotAt = args.indexOf('--screenshot');
const screenshotFile = shotAt === -1 ? null : path.resolve(args[shotAt + 1] || '');

function skip(why) {
  console.log(`landing: skipped: ${why}`);
  process.exit(SKIP);
}

if (!existsSync(CHROMIUM)) {
  skip(`${CHROMIUM} is missing (apt-get install chromium)`);
}
if (!existsSync(path.join(PLAYWRIGHT, 'package.json'))) {
  skip(`${PLAYWRIGHT} is missing (npm ci --prefix tests/www)`);
}
// The node running this must be one the installed driver supports: Debian 12's own is
// Node 18, which playwright-core 1.61 (the version package.json pins) still supports and
// 1.62 and later do not. A node that is too old fails here, saying which is which, rather
// than somewhere inside the driver.
const driver = JSON.parse(readFileSync(path.join(PLAYWRIGHT, 'package.json'), 'utf8'));
const needs = /^>=\s*(\d+)/.exec(driver.engines?.node || '');
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (needs && nodeMajor < Number(needs[1])) {
  console.error(`landing: ${process.execPath} is Node.js ${process.versions.node}; ` +
    `playwright-core ${driver.version} needs Node.js ${driver.engines.node}. Install the ` +
    `version tests/www/package.json pins (npm ci --prefix tests/www), or put a newer node ` +
    `first on PATH and set the build up again.`);
  process.exit(1);
}
console.log(`landing: Node.js ${process.versions.node}, playwright-core ${driver.version}, ${CHROMIUM}`);
const { chromium } = await import('playwright-core');

function grouped(token) {
  return token.match(/.{1,4}/g).join(' ');
}

// ---- the static server ------------------------------------------------------------

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// It sends no Content-Security-Policy header on purpose: the policy in the page's
// <meta> is then the only one, and the test shows that it holds by itself.
function startServer() {
  const log = [];
  const server = http.createServer((req, res) => {
    log.push({ method: req.method, url: req.url, referer: req.headers.referer });
    if (verbose) {
      console.log(`# server: ${req.method} ${req.url}`);
    }
    let pathname = new URL(req.url, 'http://127.0.0.1').pathname;
    const renamed = pathname.startsWith(RENAMED);
    if (renamed) {
      pathname = pathname.slice(RENAMED.length - 1);
    }
    const name = pathname === '/' ? 'index.html' : pathname.slice(1);
    const type = CONTENT_TYPES[path.extname(name)];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !/^[a-z0-9-]+\.[a-z]+$/.test(name) ||
        !type || !existsSync(path.join(WWW, name))) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    let body = readFileSync(path.join(WWW, name));
    if (renamed && name === 'index.html') {
      const meta = '<meta name="sesame-param" content="sesame">';
      assert(body.includes(meta), 'index.html has no sesame-param meta to rewrite');
      body = Buffer.from(body.toString('utf8')
        .replace(meta, '<meta name="sesame-param" content="login">'));
    }
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, log }));
  });
}

// ---- the harness --------------------------------------------------------------------

let passed = 0;
let failed = 0;

function assert(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

function assertEqual(actual, expected, what) {
  assert(actual === expected, `${what}: expected ${JSON.stringify(expected)}, ` +
    `got ${JSON.stringify(actual)}`);
}

async function check(name, body) {
  try {
    await body();
    passed++;
    console.log(`ok ${passed + failed} - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok ${passed + failed} - ${name}`);
    console.log(`# ${String(err && err.stack || err).split('\n').join('\n# ')}`);
  }
}

const { server, log: serverLog } = await startServer();
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// One fresh context per case: no state carries from one case to the next. Records
// every request the page makes, what reached the server, and console errors.
async function open(address, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport || { width: 800, height: 600 },
    javaScriptEnabled: options.javaScriptEnabled !== false,
    colorScheme: options.colorScheme || 'light',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const seen = { requests: [], errors: [], server: null };
  const serverFrom = serverLog.length;
  page.on('request', (request) => seen.requests.push(request.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      seen.errors.push(msg.text());
    }
  });
  page.on('pageerror', (err) => seen.errors.push(String(err)));
  await page.goto(origin + address, { waitUntil: 'load' });
  if (options.javaScriptEnabled !== false) {
    await page.waitForFunction(() =>
      !document.getElementById('token-view').hidden || !document.getElementById('no-token').hidden);
  }
  seen.server = () => serverLog.slice(serverFrom);
  return { context, page, seen };
}

async function visible(page, selector) {
  return page.locator(selector).isVisible();
}

// Only the page's own files reached the server, none carried the token or a Referer,
// and the page asked nothing of any other origin.
function assertOwnRequestsOnly(seen, token, { tokenInPageRequest = false } = {}) {
  for (const url of seen.requests) {
    assertEqual(new URL(url).origin, origin, `origin of the request for ${url}`);
  }
  const served = seen.server();
  assert(served.length > 0, 'the server saw no request at all');
  served.forEach((entry, index) => {
    const pathname = new URL(entry.url, origin).pathname;
    assert(PAGE_FILES.has(pathname.replace(/^\/renamed\//, '/')),
      `the server was asked for ${entry.url}`);
    assertEqual(entry.method, 'GET', `method of ${entry.url}`);
    assertEqual(entry.referer, undefined, `Referer sent with ${pathname}`);
    const mayCarry = tokenInPageRequest && index === 0;
    if (token && !mayCarry) {
      assert(!entry.url.toUpperCase().includes(token.slice(4, 20)),
        `the token reached the server in ${entry.url}`);
    }
  });
}

// Chromium says, rightly, that frame-ancestors in a <meta> policy is ignored: the
// server sends it as a header (packaging/www/README.md). Any other error counts.
const FRAME_ANCESTORS_IN_META = /'frame-ancestors' is ignored when delivered via a <meta>/;

function assertNoErrors(seen) {
  const errors = seen.errors.filter((text) => !FRAME_ANCESTORS_IN_META.test(text));
  assertEqual(errors.join(' | '), '', 'console errors');
}

// ---- the cases ----------------------------------------------------------------------

const started = Date.now();
const deadline = setTimeout(() => {
  console.log(`# gave up after ${DEADLINE_MS / 1000} s`);
  console.log(`landing: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, DEADLINE_MS);

await check('fragment link: the token is shown grouped, copied whole, never sent', async () => {
  const { context, page, seen } = await open(`/#sesame=${TOKEN}`);
  assertEqual(await page.textContent('#token'), grouped(TOKEN), 'token on the page');
  assert(await visible(page, '#copy'), 'the copy button is not visible');
  assert(!(await visible(page, '#no-token')), 'the no-token message is visible');
  assertEqual((await page.textContent('#token-label')).trim(), 'Paste this at your login prompt.',
    'instruction');
  const note = (await page.textContent('#token-view .note')).replace(/\s+/g, ' ').trim();
  assertEqual(note, 'This page does not log you in and uses nothing up; the token works once, ' +
    'at the prompt. Do not share it.', 'note');
  await page.click('#copy');
  await page.waitForFunction(() => document.getElementById('copy-status').textContent !== '');
  assert((await page.textContent('#copy-status')).startsWith('Copied.'),
    `copy status: ${await page.textContent('#copy-status')}`);
  assertEqual(await page.evaluate(() => navigator.clipboard.readText()), TOKEN, 'clipboard');
  assertEqual(seen.server().map((e) => e.url).sort().join(' '), '/ /landing.css /landing.js',
    'requests the server saw');
  assertOwnRequestsOnly(seen, TOKEN);
  assertNoErrors(seen);
  await context.close();
});

await check('query link: the token is shown, subresources carry no Referer', async () => {
  const { context, page, seen } = await open(`/?sesame=${TOKEN}`);
  assertEqual(await page.textContent('#token'), grouped(TOKEN), 'token on the page');
  assert(await visible(page, '#copy'), 'the copy button is not visible');
  assertOwnRequestsOnly(seen, TOKEN, { tokenInPageRequest: true });
  assertNoErrors(seen);
  await context.close();
});

await check('lower case, hyphens, %20, O/I/L look-alikes and other params: normalised',
  async () => {
    // ssmi... with hyphens, every 0 written as o and every 1 as l (i in the prefix).
    const sloppy = 'ssmi-' + grouped(TOKEN.slice(4)).toLowerCase().replace(/ /g, '-')
      .replace(/0/g, 'o').replace(/1/g, 'l');
    const spaced = grouped(TOKEN.slice(0, 20)).replace(/ /g, '%20') + TOKEN.slice(20);
    for (const [address, rest] of [
      [`/#from=mail&sesame=${sloppy}&lang=en`, `${origin}/#from=mail&lang=en`],
      [`/?utm=x;sesame=${spaced}`, `${origin}/?utm=x`],
      [`/?a=1#sesame=${encodeURIComponent(grouped(TOKEN))}`, `${origin}/?a=1`],
    ]) {
      const { context, page, seen } = await open(address);
      assertEqual(await page.textContent('#token'), grouped(TOKEN), `token shown for ${address}`);
      await page.click('#copy');
      assertEqual(await page.evaluate(() => navigator.clipboard.readText()), TOKEN,
        `clipboard for ${address}`);
      assertEqual(page.url(), rest, `address left by ${address}`);
      assertNoErrors(seen);
      await context.close();
    }
  });

await check('no token: the page says so and offers no copy button', async () => {
  for (const address of ['/', '/index.html', '/#from=mail', '/?sesame=', '/#sesame']) {
    const { context, page, seen } = await open(address);
    assert(await visible(page, '#no-token'), `no message for ${address}`);
    assertEqual((await page.textContent('#no-token-label')).trim(),
      'This link does not carry a sesame token.', `message for ${address}`);
    assert(!(await visible(page, '#copy')), `a copy button for ${address}`);
    assert(!(await visible(page, '#token-view')), `a token view for ${address}`);
    assertOwnRequestsOnly(seen, null);
    assertNoErrors(seen);
    await context.close();
  }
});

await check('malformed tokens: the same message, nothing of the value shown', async () => {
  const cases = [
    TOKEN.slice(0, 59),                              // one character short
    TOKEN + 'A',                                     // one too many
    TOKEN.slice(0, 30) + 'U' + TOKEN.slice(31),      // U is not in the alphabet
    'SSM2' + TOKEN.slice(4),                         // another version
    TOKEN.slice(0, 30) + '%ZZ' + TOKEN.slice(30),    // a bad escape
    TOKEN.slice(0, 30) + '%00' + TOKEN.slice(30),    // a NUL
    `${TOKEN}&sesame=${TOKEN}`,                      // the parameter twice
    'x'.repeat(3000),                                // too long
  ];
  for (const value of cases) {
    const { context, page, seen } = await open(`/#sesame=${value}`);
    assert(await visible(page, '#no-token'), `no message for ${value}`);
    assert(!(await visible(page, '#copy')), `a copy button for ${value}`);
    assertEqual(await page.textContent('#token'), '', `token text for ${value}`);
    assertOwnRequestsOnly(seen, null);
    assertNoErrors(seen);
    await context.close();
  }
});

await check('the token leaves the address bar (history.replaceState)', async () => {
  for (const address of [`/#sesame=${TOKEN}`, `/?sesame=${TOKEN}`]) {
    const { context, page } = await open(address);
    const href = await page.evaluate(() => window.location.href);
    assertEqual(href, `${origin}/`, `location.href after ${address.slice(0, 10)}...`);
    assert(!href.includes(TOKEN), 'the token is still in location.href');
    // What the browser keeps in this tab's history: the entry now holds the clean address.
    const cdp = await context.newCDPSession(page);
    const { entries } = await cdp.send('Page.getNavigationHistory');
    const kept = entries.map((entry) => entry.url).join(' ');
    assert(!kept.includes(TOKEN), `the token is in the tab's history: ${kept}`);
    assert(entries.some((entry) => entry.url === `${origin}/`), `history: ${kept}`);
    assertEqual(await page.textContent('#token'), grouped(TOKEN), 'token still on the page');
    await context.close();
  }
});

await check('<meta name="sesame-param"> renames the parameter', async () => {
  const renamed = await open(`${RENAMED}#from=mail&login=${TOKEN}`);
  assertEqual(await renamed.page.textContent('#token'), grouped(TOKEN), 'token for login=');
  assertEqual(renamed.page.url(), `${origin}${RENAMED}#from=mail`, 'address left');
  assertOwnRequestsOnly(renamed.seen, TOKEN);
  assertNoErrors(renamed.seen);
  await renamed.context.close();
  const old = await open(`${RENAMED}#sesame=${TOKEN}`);
  assert(await visible(old.page, '#no-token'), 'sesame= still read after the rename');
  await old.context.close();
});

await check('a second link in the same tab (fragment only) shows its token', async () => {
  const { context, page, seen } = await open(`/#sesame=${TOKEN}`);
  const before = seen.server().length;
  await page.evaluate((t) => { window.location.hash = `sesame=${t}`; }, TOKEN2);
  await page.waitForFunction((g) => document.getElementById('token').textContent === g,
    grouped(TOKEN2));
  assertEqual(page.url(), `${origin}/`, 'address after the second link');
  assertEqual(seen.server().length, before, 'requests made by the fragment change');
  await context.close();
});

await check('CSP: the meta policy is present and holds; markup in the link stays inert',
  async () => {
    const { context, page, seen } = await open('/');
    assertEqual(await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content'),
      CSP, 'CSP meta');
    assertEqual(await page.getAttribute('meta[name="referrer"]', 'content'), 'no-referrer',
      'referrer meta');
    assert((await page.getAttribute('meta[name="robots"]', 'content')).includes('noindex'),
      'robots meta');
    // The policy blocks inline script and any request the page itself might try.
    const outcome = await page.evaluate(async () => {
      const script = document.createElement('script');
      script.textContent = 'window.__inline = true;';
      document.body.appendChild(script);
      let fetched = 'no';
      try {
        await fetch('/landing.css');
        fetched = 'yes';
      } catch (e) {
        fetched = 'blocked';
      }
      return { inline: window.__inline === true, fetched };
    });
    assertEqual(outcome.inline, false, 'inline script ran');
    assertEqual(outcome.fetched, 'blocked', 'fetch');
    assertOwnRequestsOnly(seen, null);
    await context.close();

    const payloads = [
      '<img src=x onerror="window.__pwned=1">',
      '"><script>window.__pwned=1</script>',
      `${TOKEN}<img src=/x onerror="window.__pwned=1">`,
    ];
    for (const payload of payloads) {
      for (const address of [`/#sesame=${encodeURIComponent(payload)}`,
        `/?sesame=${encodeURIComponent(payload)}`, `/#sesame=${payload}`]) {
        const opened = await open(address);
        assert(await visible(opened.page, '#no-token'), `no message for ${address}`);
        assertEqual(await opened.page.evaluate(() => window.__pwned), undefined,
          `script ran for ${address}`);
        assertEqual(await opened.page.locator('main img, main script').count(), 0,
          `elements injected for ${address}`);
        assertOwnRequestsOnly(opened.seen, null);
        assertNoErrors(opened.seen);
        await opened.context.close();
      }
    }
  });

await check('JavaScript off, query link: the noscript guidance is shown', async () => {
  const { context, page, seen } = await open(`/?sesame=${TOKEN}`, { javaScriptEnabled: false });
  assert(await visible(page, '#noscript-help'), 'the noscript guidance is not visible');
  const help = (await page.textContent('#noscript-help')).replace(/\s+/g, ' ');
  assert(help.includes('the part after sesame='), `guidance: ${help}`);
  assert(help.includes('paste them at your login prompt'), `guidance: ${help}`);
  assert(!(await visible(page, '#token-view')), 'the token view is visible');
  assert(!(await visible(page, '#no-token')), 'the no-token message is visible');
  assertOwnRequestsOnly(seen, TOKEN, { tokenInPageRequest: true });
  await context.close();
});

await check('JavaScript on: the noscript guidance is not shown', async () => {
  const { context, page } = await open(`/#sesame=${TOKEN}`);
  assertEqual(await page.locator('#noscript-help').count(), 0, 'noscript elements in the DOM');
  await context.close();
});

await check('phone viewport and dark scheme: no sideways scrolling, dark colours', async () => {
  const { context, page, seen } = await open(`/#sesame=${TOKEN}`,
    { viewport: { width: 360, height: 640 }, colorScheme: 'dark' });
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
    background: getComputedStyle(document.body).backgroundColor,
    tokenRight: document.getElementById('token').getBoundingClientRect().right,
  }));
  assert(layout.scroll <= layout.width, `page is ${layout.scroll}px wide in ${layout.width}px`);
  assert(layout.tokenRight <= layout.width, `token ends at ${layout.tokenRight}px`);
  assertEqual(layout.background, 'rgb(15, 18, 22)', 'dark background');
  assertEqual(await page.getAttribute('meta[name="viewport"]', 'content'),
    'width=device-width, initial-scale=1', 'viewport meta');
  assertNoErrors(seen);
  await context.close();
});

await check('screenshot at 800x600', async () => {
  const { context, page } = await open(`/#sesame=${TOKEN}`);
  const png = await page.screenshot({ fullPage: false });
  assertEqual(png.subarray(1, 4).toString('latin1'), 'PNG', 'PNG signature');
  assertEqual(png.readUInt32BE(16), 800, 'width');
  assertEqual(png.readUInt32BE(20), 600, 'height');
  if (screenshotFile) {
    writeFileSync(screenshotFile, png);
    console.log(`# screenshot: ${screenshotFile}`);
  }
  await context.close();
});

clearTimeout(deadline);
await browser.close();
await new Promise((resolve) => server.close(resolve));
console.log(`# ${serverLog.length} requests served, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`landing: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
