// The dashboard's "Watch on phone" in Debian's Chromium: from this machine
// the page offers, per named stream and for all of them, a viewer link
// with its QR code (POST /tokens); the link's token plays its stream, and
// decoder's page opened with it keeps the token in an HttpOnly cookie.
// Run by e2e_phone_test.go, which starts decoder with named streams and
// passes it as DECODER_URL (see common.mjs).
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import { decoder, outDir, runScenarios, sleep } from './common.mjs';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

/** Waits until fn() is truthy in page, polling every 100 ms. */
async function until(page, ms, what, fn, arg) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(fn, arg);
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** The link the panel shows: its URL, expiry, warning and QR size. */
function shownLink() {
  const box = document.querySelector('#watch-on-phone .link');
  const img = box.querySelector('img');
  if (box.hidden || !img.complete || !img.naturalWidth || !img.src.startsWith('data:image/png')) return null;
  return { url: box.querySelector('a').href, until: box.querySelector('.until').textContent,
    warning: box.querySelector('.warning').textContent, qr: img.naturalWidth };
}

/** Resolves with the first init message of /live?query, in the page. */
function firstInit(query) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/live?' + query);
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      const m = JSON.parse(e.data);
      if (m.type === 'init' || m.type === 'error') { ws.close(); (m.type === 'init' ? resolve : reject)(m.type === 'init' ? m.video.width : m.message); }
    };
    ws.onerror = () => reject(new Error('socket error'));
  });
}

const scenarios = {
  async phone() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(decoder + '/#watch-on-phone');
    const buttons = await until(page, 10000, 'the panel', () => {
      const p = document.getElementById('watch-on-phone');
      const b = [...p.querySelectorAll('.buttons button')].map((b) => b.textContent);
      return !p.hidden && b.length === 3 && b;
    });
    if (buttons.join() !== 'front-door,garage,All cameras') throw new Error('panel buttons: ' + buttons);

    await page.click('#watch-on-phone .buttons button[data-streams="front-door"]');
    const link = await until(page, 10000, 'a link and its QR code', shownLink);
    const u = new URL(link.url);
    const token = u.searchParams.get('token');
    if (!token || u.searchParams.get('src') !== 'front-door' || !link.until || link.qr < 200) throw new Error('link: ' + JSON.stringify(link));
    if (!link.warning.includes('-addr 0.0.0.0')) throw new Error('no warning that phones cannot reach a decoder on loopback: ' + link.warning);
    const width = await page.evaluate(firstInit, 'src=front-door&token=' + encodeURIComponent(token));
    if (width !== 1280) throw new Error('the token played a picture ' + width + ' wide');
    const refused = await page.evaluate(firstInit, 'src=garage&token=' + encodeURIComponent(token)).catch((e) => String(e));
    if (!String(refused).includes('not for "garage"')) throw new Error('the front-door token played garage: ' + refused);

    // A running named stream has its own button in the streams table.
    await page.evaluate(() => { window.keep = new WebSocket(location.origin.replace(/^http/, 'ws') + '/live?src=garage'); });
    await until(page, 10000, 'the button of garage in the streams table', () => document.querySelector('#streams button.phone[data-streams="garage"]'));
    await page.click('#streams button.phone[data-streams="garage"]');
    await until(page, 10000, 'a link to garage', () => new URL(document.querySelector('#watch-on-phone .link a').href).searchParams.get('src') === 'garage');
    await page.selectOption('#watch-on-phone select.ttl', '30d');
    await page.click('#watch-on-phone .buttons button[data-streams="*"]');
    const all = await until(page, 10000, 'a link to all', () => {
      const a = document.querySelector('#watch-on-phone .link a');
      return new URL(a.href).searchParams.getAll('src').join() === 'front-door,garage' && a.href;
    });
    await page.screenshot({ path: join(outDir, 'watch-on-phone.png'), fullPage: true });

    // The phone: decoder's page opened with the link keeps its token in a
    // cookie scripts cannot read. This decoder listens on loopback, so the
    // link's path is opened there.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const res = await phone.goto(decoder + u.pathname + u.search);
    const cookies = await phone.context().cookies();
    const c = cookies.find((c) => c.name === 'decoder_token');
    if (res.status() !== 200 || !c || !c.httpOnly || c.sameSite !== 'Strict' || c.value !== token) throw new Error('the page with the link: ' + res.status() + ' ' + JSON.stringify(cookies));
    if ((await phone.evaluate(() => document.cookie)).includes(token)) throw new Error('the page script can read the token');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    return { link: u.origin, qr_px: link.qr, all: new URL(all).searchParams.getAll('src').length };
  },
};

const failed = await runScenarios(scenarios, [], async () => {
  for (const context of browser.contexts()) await context.close();
});
await browser.close();
process.exit(failed ? 1 : 0);
