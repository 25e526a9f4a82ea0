// <decoder-stream> and named streams in Debian's Chromium, driven by
// playwright-core: the element in a page of another origin, and the
// dashboard opened from viewer links, on a desktop and at a phone's size.
// Run by e2e_element_test.go, which starts decoder with named streams
// (DECODER_URL, see common.mjs).
//
// Each scenario prints one JSON line with its figures; the process exits 1
// if any scenario failed.
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import { decoder, outDir, recordSockets, runScenarios, waitPlaying, wallQuery } from './common.mjs';
import { checkElement, checkPhone, startPages, viewerToken } from './embed.mjs';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
});
const pages = await startPages();

/**
 * A new page, as the shared checks use it, with every WebSocket it opens
 * kept in window.sockets and its errors in errors.
 * @param {import('playwright-core').BrowserContextOptions} options
 */
async function open(options) {
  const page = await browser.newPage(options);
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  /** @type {import('./embed.mjs').Browser} */
  const b = {
    open: async (url) => { await page.goto(url); },
    // The same call: playwright's types add only what it unwraps of handles.
    evaluate: /** @type {import('./embed.mjs').Browser['evaluate']} */ (/** @type {unknown} */ (page.evaluate.bind(page))),
    screenshot: async (name) => { await page.screenshot({ path: join(outDir, name) }); },
  };
  return { page, b, errors };
}

/**
 * Opens the dashboard with every /live socket's URL recorded.
 * @param {import('playwright-core').BrowserContextOptions} options
 * @param {string} query
 */
async function dashboard(options, query) {
  const d = await open(options);
  await d.page.addInitScript(recordSockets);
  await d.b.open(decoder + '/' + query);
  return d;
}

const scenarios = {
  // <decoder-stream> in a page of another origin, with the one line of
  // HTML a site adds.
  async element() {
    const { b, errors } = await open({ viewport: { width: 1280, height: 800 } });
    const figures = await checkElement(b, pages.origin, {});
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    return figures;
  },

  // The dashboard opened from a link to all named streams plays each in
  // a tile by its name: every /live and /snapshot it asks for says src=,
  // none url=. At a phone's size, the page opened from a viewer link fits
  // the screen, its tile as wide as it.
  async dashboard() {
    const wall = await dashboard({ viewport: { width: 1280, height: 800 } }, wallQuery(['front-door', 'garage'], 4));
    for (let i = 0; i < 4; i++) await waitPlaying(wall.b, i, 1, 30000);
    const urls = (await wall.b.evaluate(() => window.sockets, null)).map((u) => new URL(u)).filter((u) => u.pathname === '/live');
    const posters = await wall.b.evaluate(() => window.decoderWall.tiles.map((t) => t.el.querySelector('video')?.poster || ''), null);
    // A tile that reconnected opened more, each by the same name.
    const names = urls.map((u) => u.searchParams.get('src'));
    if (urls.some((u) => u.searchParams.has('url')) || names.slice(0, 4).join() !== 'front-door,garage,front-door,garage') {
      throw new Error('the tiles opened ' + urls.map((u) => u.search).join(' '));
    }
    const snapshots = posters.filter(Boolean).map((p) => new URL(p));
    if (!snapshots.length || snapshots.some((p) => !p.searchParams.has('src') || p.searchParams.has('url'))) throw new Error('posters: ' + posters.join(' '));
    await wall.page.screenshot({ path: join(outDir, 'named-wall.png') });

    const token = await viewerToken('front-door', 'chromium');
    const phone = await dashboard({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
      '?src=front-door&token=' + encodeURIComponent(token));
    const figures = await checkPhone(phone.b);
    await phone.page.screenshot({ path: join(outDir, 'phone.png'), fullPage: true });
    const errors = [...wall.errors, ...phone.errors];
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    return { sockets: names, posters: snapshots.length, phone: figures };
  },
};

// Playwright gives each page of browser.newPage a context of its own.
const failed = await runScenarios(scenarios, [], async () => {
  for (const context of browser.contexts()) await context.close();
});
await browser.close();
await pages.close();
process.exit(failed ? 1 : 0);
