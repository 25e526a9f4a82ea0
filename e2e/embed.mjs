// The player and <decoder-stream> in pages of another origin, as a site
// embeds them, and decoder's dashboard opened from a viewer link: the
// pages (served by the scenario script itself, on a loopback origin, which
// decoder allows without configuration) and the checks that element.mjs
// (Chromium) and webkit.mjs (WebKit) make with their drivers. A page asked
// for with ?iphone plays as on an iPhone: MediaSource hidden,
// ManagedMediaSource all there is.
import { createServer } from 'node:http';
import { decoder, sleep, streams, waitPlaying } from './common.mjs';

/**
 * A browser's one page, whichever driver runs it.
 * @typedef {object} Browser
 * @property {(url: string) => Promise<void>} open
 * @property {import('./pages').ScenarioPage['evaluate']} evaluate
 * @property {(name: string) => Promise<void>} screenshot a PNG of the page in OUT_DIR
 */

/**
 * Runs first in a page that plays as an iPhone does: hides MediaSource,
 * and keeps each ManagedMediaSource made in window.managedSources, with
 * how many startstreaming and endstreaming events the browser sent it.
 */
export function asIPhone() {
  const Managed = window.ManagedMediaSource;
  if (!Managed) throw new Error('this browser has no ManagedMediaSource');
  window.managedSources = [];
  window.ManagedMediaSource = class extends Managed {
    constructor() {
      super();
      const seen = { source: /** @type {MediaSource} */ (this), start: 0, end: 0 };
      this.addEventListener('startstreaming', () => seen.start++);
      this.addEventListener('endstreaming', () => seen.end++);
      window.managedSources.push(seen);
    }
  };
  delete (/** @type {{MediaSource?: unknown}} */ (window)).MediaSource;
}

/**
 * An element as a tile of a wall: 480 pixels wide, it asks for 360 lines
 * (?wide: 800, it asks for the source's own height).
 */
const ELEMENT = `<decoder-stream id="cam" src="front-door" wall-height="360" style="width: WIDTHpx"></decoder-stream>
<script>
  window.events = [];
  for (const type of ['state', 'init', 'status', 'stats']) document.getElementById('cam').addEventListener(type, () => window.events.push(type));
</script>`;

const PLAYER = `<video id="video"></video>
<script type="module">
  import { DecoderPlayer } from '${decoder}/decoder.js';
  window.player = new DecoderPlayer(document.getElementById('video'), { url: 'demo://' });
</script>`;

/**
 * Serves /element and /player on a loopback port of their own.
 * @returns {Promise<{origin: string, close: () => Promise<void>}>}
 */
export async function startPages() {
  const server = createServer((req, res) => {
    const u = new URL(req.url || '/', 'http://pages');
    const body = { '/element': ELEMENT.replace('WIDTH', u.searchParams.has('wide') ? '800' : '480'), '/player': PLAYER }[u.pathname];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const iphone = u.searchParams.has('iphone') ? `<script>(${asIPhone})()</script>` : '';
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${iphone}<script type="module" src="${decoder}/decoder.js"></script></head><body>${body}</body></html>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(null)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Viewers decoder counts of named stream name: of the stream and of its
 * outputs (a height asked for is an output).
 * @param {string} name
 */
export async function viewersOf(name) {
  return (await streams()).filter((/** @type {{name?: string}} */ s) => s.name === name)
    .reduce((/** @type {number} */ n, /** @type {{viewers: number}} */ s) => n + s.viewers, 0);
}

/**
 * Waits until the viewers of each named stream are as want says.
 * @param {Record<string, number>} want
 * @param {number} ms
 */
export async function waitViewers(want, ms) {
  const deadline = Date.now() + ms;
  /** @type {Record<string, number>} */
  let seen = {};
  while (Date.now() < deadline) {
    seen = {};
    for (const name of Object.keys(want)) seen[name] = await viewersOf(name);
    if (Object.keys(want).every((name) => seen[name] === want[name])) return;
    await sleep(200);
  }
  throw new Error(`viewers ${JSON.stringify(seen)} after ${ms} ms, want ${JSON.stringify(want)}`);
}

/**
 * A viewer token for stream name, as the dashboard's "Watch on phone"
 * gets one (POST /tokens, from this machine).
 * @param {string} name
 * @param {string} who
 * @returns {Promise<string>}
 */
export async function viewerToken(name, who) {
  const res = await fetch(decoder + '/tokens', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ streams: [name], ttl: '1h', name: who }),
  });
  const env = await res.json();
  if (!res.ok || !env.data.token) throw new Error(`POST /tokens: ${res.status} ${env.message}`);
  return env.data.token;
}

/** What a page's player is doing: from the element #cam, or window.player. */
function look() {
  const el = document.querySelector('decoder-stream');
  const p = el ? el.player : window.player;
  const v = el ? el.video : document.querySelector('video');
  const b = v ? v.buffered : null;
  return {
    state: p ? p.stats.state : '', attribute: el ? el.getAttribute('state') : null, reason: p ? p.stats.reason : '',
    time: v ? v.currentTime : 0, frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
    end: b && b.length ? b.end(b.length - 1) : 0, live: p ? p.liveURL().href : '', received: p ? p.stats.frames : 0,
    mediaSource: p ? p.stats.mediaSource : '', streaming: p ? p.stats.streaming : false, events: window.events || [],
  };
}

/** @typedef {ReturnType<typeof look>} Look */

/**
 * Waits until cond holds of the page's player, for up to ms.
 * @param {Browser} b
 * @param {number} ms
 * @param {string} what
 * @param {(l: Look) => boolean} cond
 */
async function waitLook(b, ms, what, cond) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await b.evaluate(look, null);
    if (cond(last)) return last;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(last)}`);
}

/**
 * Waits for the page's player to be live and its media time to advance
 * by seconds, with frames decoded.
 * @param {Browser} b
 * @param {number} seconds
 */
async function waitAdvance(b, seconds) {
  const first = await waitLook(b, 30000, 'a first frame', (l) => l.state === 'live' && l.time > 0 && l.frames > 0);
  return waitLook(b, 30000, `playback to advance ${seconds} s`, (l) => l.time >= first.time + seconds && l.frames > first.frames);
}

/** @param {string} live a /live URL @param {string} name */
const param = (live, name) => new URL(live).searchParams.get(name);

/**
 * <decoder-stream src="front-door" wall-height="360"> in a page of another
 * origin: it plays, asking for 360 lines while it is small, and passes on
 * the player's events; src set to another name plays that one, and the
 * first stream's viewer is released; made larger than 360 lines, it asks
 * for the source's own height; removed, it releases its viewer. A wide
 * element is larger from the start.
 * @param {Browser} b
 * @param {string} origin the pages' origin
 * @param {{iphone?: boolean, wide?: boolean}} as
 */
export async function checkElement(b, origin, { iphone = false, wide = false }) {
  const query = [iphone && 'iphone', wide && 'wide'].filter(Boolean).join('&');
  await b.open(origin + '/element' + (query ? '?' + query : ''));
  const played = await waitAdvance(b, 2);
  if (param(played.live, 'src') !== 'front-door' || param(played.live, 'url') !== null || param(played.live, 'height') !== (wide ? null : '360')) {
    throw new Error('the element asked for ' + played.live);
  }
  const want = iphone ? 'ManagedMediaSource' : 'MediaSource';
  if (played.mediaSource !== want || !played.streaming) throw new Error(`played by ${played.mediaSource}, streaming ${played.streaming}; want ${want}, streaming`);
  if (played.attribute !== 'live' || !['state', 'init', 'status', 'stats'].every((e) => played.events.includes(e))) {
    throw new Error(`state attribute ${played.attribute}, events passed on ${played.events.join()}`);
  }
  await waitViewers({ 'front-door': 1, garage: 0 }, 10000);
  await b.screenshot(`element${iphone ? '-iphone' : ''}.png`);

  await b.evaluate(() => document.getElementById('cam')?.setAttribute('src', 'garage'), null);
  const garage = await waitLook(b, 30000, 'garage', (l) => param(l.live, 'src') === 'garage' && l.state === 'live');
  await waitLook(b, 30000, 'garage to advance', (l) => l.time >= garage.time + 1 && l.state === 'live');
  await waitViewers({ 'front-door': 0, garage: 1 }, 10000);

  if (!wide) {
    await b.evaluate(() => { document.getElementById('cam')?.style.setProperty('width', '800px'); }, null);
    await waitLook(b, 30000, 'the large element to ask for no height', (l) => l.state === 'live' && param(l.live, 'height') === null);
  }

  await b.evaluate(() => document.getElementById('cam')?.remove(), null);
  await waitViewers({ 'front-door': 0, garage: 0 }, 10000);
  const events = await b.evaluate(() => window.events, null);
  if (events[events.length - 1] !== 'state') throw new Error('no state event (closed) after the removal: ' + events.slice(-3).join());
  return { media_source: played.mediaSource, asked: param(played.live, 'height'), events: events.length };
}

/**
 * The player in a page of another origin plays demo://. As on an iPhone,
 * it also follows the browser's word: after endstreaming nothing more is
 * appended while media keeps arriving, and after startstreaming what
 * waited is appended and playback goes on.
 * @param {Browser} b
 * @param {string} origin
 * @param {boolean} iphone
 */
export async function checkPlayer(b, origin, iphone) {
  await b.open(origin + '/player' + (iphone ? '?iphone' : ''));
  const played = await waitAdvance(b, 2);
  const want = iphone ? 'ManagedMediaSource' : 'MediaSource';
  if (played.mediaSource !== want || param(played.live, 'url') !== 'demo://') throw new Error(`${played.live} played by ${played.mediaSource}, want ${want}`);
  if (!iphone) return { media_source: played.mediaSource };

  const told = (/** @type {string} */ type) => b.evaluate((type) => {
    const m = window.managedSources;
    m[m.length - 1].source.dispatchEvent(new Event(type));
  }, type);
  await told('endstreaming');
  const stopped = await waitLook(b, 5000, 'streaming to stop', (l) => !l.streaming);
  await sleep(3000);
  const held = await b.evaluate(look, null);
  if (held.end > stopped.end + 0.5 || held.received < stopped.received + 25) {
    throw new Error(`after endstreaming, media buffered up to ${stopped.end} then ${held.end}, frames received ${stopped.received} then ${held.received}: want appends held while frames arrive`);
  }
  await told('startstreaming');
  const resumed = await waitLook(b, 10000, 'the held media to be appended', (l) => l.streaming && l.end > held.end + 2);
  await waitLook(b, 30000, 'playback to go on', (l) => l.state === 'live' && l.time >= resumed.time + 1);
  const seen = await b.evaluate(() => window.managedSources.map((m) => ({ start: m.start, end: m.end })), null);
  return { media_source: played.mediaSource, held_s: +(held.end - stopped.end).toFixed(2), resumed_s: +(resumed.end - held.end).toFixed(2), browser_events: seen };
}

/**
 * decoder's dashboard opened from a viewer link, ?src=front-door&token=…,
 * in a browser whose viewport is a phone's: its tile plays the named
 * stream through src (no camera URL), as wide as the screen, with
 * nothing wider than the screen and inputs a finger can use. The page is
 * open already.
 * @param {Browser} b
 */
export async function checkPhone(b) {
  const played = await waitPlaying(b, 0, 2, 30000);
  const page = await b.evaluate(() => {
    const t = window.decoderWall.tiles[0];
    const input = /** @type {HTMLElement} */ (document.getElementById('url'));
    return {
      width: innerWidth, scroll: document.documentElement.scrollWidth, tile: t.el.getBoundingClientRect().width,
      live: t.player ? t.player.liveURL().href : '', options: t.player ? { src: t.player.options.src || '', url: t.player.options.url || '' } : null,
      font: parseFloat(getComputedStyle(input).fontSize), button: document.getElementById('play')?.getBoundingClientRect().height || 0,
    };
  }, null);
  if (page.options?.src !== 'front-door' || page.options.url !== '' || param(page.live, 'src') !== 'front-door' || param(page.live, 'url') !== null) {
    throw new Error(`the tile plays ${JSON.stringify(page.options)} at ${page.live}, want src=front-door`);
  }
  if (page.width > 480 || page.scroll > page.width || page.tile < page.width - 24 || page.font < 16 || page.button < 44) {
    throw new Error('at a phone\'s size: ' + JSON.stringify(page));
  }
  return { viewport: page.width, tile_px: Math.round(page.tile), media_source: played.stats?.mediaSource };
}
