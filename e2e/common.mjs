// What the browser scenarios share, whichever engine and driver runs them
// (e2e.mjs and element.mjs: Chromium through playwright-core; firefox.mjs:
// Firefox through puppeteer-core; webkit.mjs: WebKitGTK through
// selenium-webdriver). Every driver's page has evaluate(fn, arg), or is
// given one, which is all these helpers use.
import { mkdirSync } from 'node:fs';

/** @typedef {import('./pages').ScenarioPage} ScenarioPage */

/** decoder's page, e.g. http://127.0.0.1:3000. */
export const decoder = process.env.DECODER_URL || '';
/** The cameras e2e_test.go started, by name. */
export const cameras = JSON.parse(process.env.CAMERAS || '{}');
/** Where screenshots go. */
export const outDir = process.env.OUT_DIR || 'test-output';
mkdirSync(outDir, { recursive: true });

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Playback figures of tile i of the dashboard: media time, decoded frames,
 * player stats, the init message and the height asked for.
 * @param {ScenarioPage} page
 * @param {number} i
 */
export async function tile(page, i) {
  return page.evaluate((i) => {
    const t = window.decoderWall.tiles[i];
    const v = t.el.querySelector('video');
    const init = t.init;
    return {
      state: t.el.dataset.state, reason: t.el.dataset.reason || '',
      time: v ? v.currentTime : 0,
      frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
      stats: t.player ? { ...t.player.stats } : null,
      init: init ? { mime: init.mime, video: init.video.codec, audio: init.audio ? init.audio.codec : '', transcode: init.transcode || null, note: init.note || '' } : null,
      asked: t.player ? t.player.options.height || 0 : 0,
      height: t.player ? t.player.height : 0,
    };
  }, i);
}

/** @typedef {Awaited<ReturnType<typeof tile>>} TileFigures */

/**
 * Waits until cond(tile) holds, polling every 100 ms, for up to ms.
 * @param {ScenarioPage} page
 * @param {number} i
 * @param {number} ms
 * @param {string} what
 * @param {(t: TileFigures) => boolean} cond
 */
export async function waitTile(page, i, ms, what, cond) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await tile(page, i);
    if (cond(last)) return last;
    await sleep(100);
  }
  throw new Error(`tile ${i}: timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(last)}`);
}

/**
 * Waits for tile i to play: its media time advances by `seconds` and more
 * frames are decoded. Both are waited for: a player far behind jumps to
 * the live edge, which moves the time without decoding a frame.
 * @param {ScenarioPage} page
 * @param {number} i
 * @param {number} seconds
 * @param {number} ms
 */
export async function waitPlaying(page, i, seconds, ms) {
  const first = await waitTile(page, i, ms, 'a first frame', (t) => t.time > 0 && t.frames > 0);
  return waitTile(page, i, ms, `media time to advance ${seconds} s and frames to be decoded`,
    (t) => t.time >= first.time + seconds && t.frames > first.frames);
}

/** The entries of decoder's /streams. */
export async function streams() {
  return (await (await fetch(decoder + '/streams')).json()).data;
}

/**
 * /?src=a&src=b&wall=n for the dashboard.
 * @param {string[]} srcs
 * @param {number} [n]
 */
export function wallQuery(srcs, n) {
  return '?' + (n ? 'wall=' + n + '&' : '') + srcs.map((s) => 'src=' + encodeURIComponent(s)).join('&');
}

/**
 * @param {number[]} values
 * @param {number} q
 */
export function percentile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0;
}

/**
 * Runs the scenarios named on the command line, or all but those in
 * onlyWhenNamed, printing one JSON line each with its figures; returns
 * whether any failed. After each, cleanUp closes what the scenario left
 * open (a failed one leaves its pages playing, which would load the
 * next).
 * @param {Record<string, () => Promise<object>>} scenarios
 * @param {string[]} onlyWhenNamed
 * @param {() => Promise<void>} cleanUp
 */
export async function runScenarios(scenarios, onlyWhenNamed, cleanUp) {
  let failed = false;
  const only = process.argv.slice(2);
  for (const [name, run] of Object.entries(scenarios)) {
    if (only.length ? !only.includes(name) : onlyWhenNamed.includes(name)) continue;
    const started = Date.now();
    try {
      const figures = await run();
      console.log(JSON.stringify({ scenario: name, ok: true, ms: Date.now() - started, ...figures }));
    } catch (err) {
      failed = true;
      console.log(JSON.stringify({ scenario: name, ok: false, ms: Date.now() - started, error: String(err instanceof Error && err.stack || err) }));
    }
    await cleanUp();
  }
  return failed;
}

/**
 * Waits until cond(row) holds for the dashboard's streams-table row of
 * stream id: its transcoding text, and its thumbnail's size ([0, 0] until
 * one has loaded).
 * @param {ScenarioPage} page
 * @param {string} id
 * @param {number} ms
 * @param {(row: {transcode: string, thumb: number[]}) => boolean} cond
 */
export async function waitRow(page, id, ms, cond) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate((id) => {
      const tr = document.querySelector(`#streams tr[data-id="${id}"]`);
      if (!tr) return null;
      const img = /** @type {HTMLImageElement | null} */ (tr.querySelector('td.thumb img'));
      return {
        transcode: tr.querySelector('td.transcode')?.textContent || '',
        thumb: img && !img.hidden && img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0],
      };
    }, id);
    if (last && cond(last)) return last;
    await sleep(200);
  }
  throw new Error(`streams table: timed out after ${ms} ms waiting for the row of ${id}; last ${JSON.stringify(last)}`);
}

/** Keeps the URL of every WebSocket the page opens in window.sockets. */
export function recordSockets() {
  const Native = window.WebSocket;
  window.sockets = [];
  window.WebSocket = class extends Native {
    /** @param {string | URL} url @param {string | string[]} [protocols] */
    constructor(url, protocols) {
      super(url, protocols);
      window.sockets.push(String(url));
    }
  };
}
