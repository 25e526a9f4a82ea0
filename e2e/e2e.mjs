// End-to-end scenarios of decoder's page and player in Debian's Chromium.
// Run by e2e_test.go, which starts decoder, the RTSP cameras and a
// control endpoint, and passes them in the environment:
//
//   DECODER_URL   decoder's page, e.g. http://127.0.0.1:3000
//   CONTROL_URL   POST /camera/stop and /camera/start stop and restart camera A
//   CAMERAS       JSON: {"a": "rtsp://…", "b": …, "c": …, "h265": …, "bframes": …, "unreachable": …, "wrongpw": …}
//   OUT_DIR       where screenshots go
//
// Each scenario prints one JSON line with its figures; the process exits 1
// if any scenario failed.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const decoder = process.env.DECODER_URL;
const control = process.env.CONTROL_URL;
const cameras = JSON.parse(process.env.CAMERAS || '{}');
const outDir = process.env.OUT_DIR || 'test-output';
mkdirSync(outDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
});

/** @param {string} query */
async function openWall(query) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const opened = Date.now();
  await page.goto(decoder + '/' + query);
  return { page, errors, opened };
}

/** Playback figures of tile i: media time, decoded frames, player stats. */
async function tile(page, i) {
  return page.evaluate((i) => {
    const t = window.decoderWall.tiles[i];
    const v = t.el.querySelector('video');
    return {
      state: t.el.dataset.state, reason: t.el.dataset.reason || '',
      time: v ? v.currentTime : 0,
      frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
      stats: t.player ? { ...t.player.stats } : null,
    };
  }, i);
}

/** Waits until cond(tile) holds, polling every 100 ms, for up to ms. */
async function waitTile(page, i, ms, what, cond) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await tile(page, i);
    if (cond(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`tile ${i}: timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(last)}`);
}

/** Waits for tile i to play: its media time advances by `seconds`. */
async function waitPlaying(page, i, seconds, ms) {
  const first = await waitTile(page, i, ms, 'a first frame', (t) => t.time > 0 && t.frames > 0);
  const advanced = await waitTile(page, i, ms, `media time to advance ${seconds} s`, (t) => t.time >= first.time + seconds);
  if (advanced.frames <= first.frames) throw new Error(`tile ${i}: decoded frames did not grow (${first.frames} → ${advanced.frames})`);
  return advanced;
}

function percentile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0;
}

const scenarios = {
  // The page plays demo:// with no other step.
  async demo() {
    const { page, errors, opened } = await openWall('');
    await waitTile(page, 0, 10000, 'a first decoded frame', (t) => t.frames > 0);
    const firstFrameMs = Date.now() - opened;
    const first = await waitTile(page, 0, 10000, 'playback', (t) => t.time > 0 && t.frames > 0);
    const start = Date.now();
    const t0 = first.time;
    const latencies = [];
    let t;
    do {
      await page.waitForTimeout(500);
      t = await tile(page, 0);
      if (t.stats) latencies.push(t.stats.latency);
    } while (t.time < t0 + 3 && Date.now() - start < 10000);
    if (t.time < t0 + 3) throw new Error(`demo: media time advanced ${(t.time - t0).toFixed(2)} s in 10 s, want 3 s`);
    if (t.frames <= first.frames) throw new Error('demo: decoded frames did not grow');
    // Latency once settled.
    for (let i = 0; i < 10; i++) {
      await page.waitForTimeout(500);
      latencies.push((await tile(page, 0)).stats.latency);
    }
    await page.screenshot({ path: join(outDir, 'demo.png') });
    // Play, with the source running: the player starts over from the
    // buffered keyframe.
    const clicked = Date.now();
    await page.click('#play');
    await waitTile(page, 0, 10000, 'a first frame after Play', (t) => t.frames > 0 && t.state === 'live');
    const playToFirstFrameMs = Date.now() - clicked;
    const streams = await page.evaluate(() => document.getElementById('streams').textContent);
    if (!streams.includes('demo://')) throw new Error('demo: the streams list does not show demo://: ' + streams);
    const version = await page.evaluate(() => document.getElementById('version').textContent);
    if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error('demo: no version on the page');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return {
      first_frame_ms: firstFrameMs, play_to_first_frame_ms: playToFirstFrameMs, frames: t.frames, codec: t.stats.codec,
      latency_p50_s: percentile(latencies.slice(-10), 0.5), latency_p95_s: percentile(latencies.slice(-10), 0.95),
    };
  },

  // An RTSP camera plays in a tile, goes away, comes back: the tile plays
  // again without reloading the page.
  async restart() {
    const { page, errors } = await openWall('?src=' + encodeURIComponent(cameras.a));
    await waitPlaying(page, 0, 1, 15000);
    const latencies = [];
    for (let i = 0; i < 6; i++) {
      await page.waitForTimeout(500);
      latencies.push((await tile(page, 0)).stats.latency);
    }
    await post('/camera/stop');
    const down = await waitTile(page, 0, 15000, 'the tile to show the camera is gone', (t) => t.state === 'reconnecting');
    // Let the buffer run out, so that moving again means new frames.
    let before = await tile(page, 0);
    for (let stable = 0; stable < 5; ) {
      await page.waitForTimeout(100);
      const now = await tile(page, 0);
      stable = now.time === before.time ? stable + 1 : 0;
      before = now;
    }
    await post('/camera/start');
    const back = Date.now();
    // Back when the playhead moves on again (by more than a frame).
    await waitTile(page, 0, 20000, 'playback after the camera returned', (t) => t.state === 'live' && t.time > before.time + 0.05);
    const recoveryMs = Date.now() - back;
    await waitPlaying(page, 0, 1, 10000);
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.screenshot({ path: join(outDir, 'restart.png') });
    await page.close();
    return {
      reason_while_down: down.reason, recovery_ms: recoveryMs,
      latency_p50_s: percentile(latencies, 0.5), latency_p95_s: percentile(latencies, 0.95),
    };
  },

  // A camera with B-frames: frames keep their order and exact durations,
  // so the browser buffers one unbroken range from the first keyframe.
  async bframes() {
    const { page, errors } = await openWall('?src=' + encodeURIComponent(cameras.bframes));
    await waitPlaying(page, 0, 2, 15000);
    const ranges = await page.evaluate(() => {
      const b = window.decoderWall.tiles[0].el.querySelector('video').buffered;
      return Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]);
    });
    if (ranges.length !== 1) throw new Error('buffered ranges ' + JSON.stringify(ranges) + ', want one');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { buffered: ranges };
  },

  // A wall of 9 tiles of 3 sources: every tile plays, each source is
  // pulled once.
  async wall() {
    const srcs = [cameras.b, cameras.c, 'demo://'];
    const { page, errors } = await openWall('?wall=9&' + srcs.map((s) => 'src=' + encodeURIComponent(s)).join('&'));
    for (let i = 0; i < 9; i++) await waitPlaying(page, i, 1, 20000);
    const streams = await (await fetch(decoder + '/streams')).json();
    const ours = streams.data.filter((s) => srcs.includes(s.url));
    if (ours.length !== 3 || ours.some((s) => s.viewers !== 3)) {
      throw new Error('wall: want 3 sources with 3 viewers each, /streams says ' + JSON.stringify(streams.data.map((s) => [s.url, s.viewers])));
    }
    await page.screenshot({ path: join(outDir, 'wall.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { tiles: 9, sources: ours.length };
  },

  // A codec the browser cannot play and a camera that cannot be reached
  // show their reason in the tile.
  async errors() {
    const { page, errors } = await openWall('?wall=4&src=' + encodeURIComponent(cameras.h265) + '&src=' + encodeURIComponent(cameras.unreachable));
    const hevc = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L63.90"'));
    let h265;
    if (hevc) {
      h265 = await waitPlaying(page, 0, 1, 15000);
    } else {
      h265 = await waitTile(page, 0, 15000, 'the H.265 error', (t) => t.state === 'error');
      if (!/cannot play H\.265/.test(h265.reason)) throw new Error('h265 tile says: ' + h265.reason);
    }
    const unreachable = await waitTile(page, 1, 15000, 'the unreachable camera reason', (t) => /cannot reach the camera/.test(t.reason));
    const shown = await page.evaluate(() => [...document.querySelectorAll('.tile .message')].map((m) => m.textContent).join('\n'));
    if (!shown.includes('cannot reach the camera')) throw new Error('the reason is not shown in the tile: ' + shown);
    await page.screenshot({ path: join(outDir, 'errors.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { hevc_supported: hevc, h265_tile: h265.reason || h265.state, unreachable_tile: unreachable.reason };
  },

  // A camera that refuses the password: the tile shows why and stays in
  // error; the player does not call again, so the camera sees one login
  // attempt, not one every few seconds (cameras lock accounts for that).
  async wrongpw() {
    const { page, errors } = await openWall('?src=' + encodeURIComponent(cameras.wrongpw));
    const failed = await waitTile(page, 0, 15000, 'the error state', (t) => t.state === 'error');
    if (!/refused the credentials/.test(failed.reason)) throw new Error('the tile says: ' + failed.reason);
    if (failed.reason.includes('wrong-pw')) throw new Error('the password is shown: ' + failed.reason);
    // Longer than the player's first retries (0.5, 1, 2 s) would take.
    await page.waitForTimeout(5000);
    const after = await tile(page, 0);
    const connections = await (await fetch(control + '/locked/connections')).json();
    if (after.state !== 'error' || after.stats.reconnects !== 0 || connections !== 1) {
      throw new Error(`after 5 s: state ${after.state}, ${after.stats.reconnects} reconnects, the camera saw ${connections} connections; want error, 0 and 1`);
    }
    await page.screenshot({ path: join(outDir, 'wrongpw.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { reason: failed.reason, camera_connections: connections };
  },

  // A wall of 16 tiles of every camera given, held for 10 s: for
  // measuring decoder's CPU (run only when named).
  async wall16() {
    const srcs = Object.values(cameras);
    const { page } = await openWall('?wall=16&' + srcs.map((s) => 'src=' + encodeURIComponent(s)).join('&'));
    for (let i = 0; i < 16; i++) await waitPlaying(page, i, 0.5, 30000);
    const latencies = [];
    for (let round = 0; round < 10; round++) {
      await page.waitForTimeout(1000);
      for (let i = 0; i < 16; i++) latencies.push((await tile(page, i)).stats.latency);
    }
    await page.screenshot({ path: join(outDir, 'wall16.png') });
    await page.close();
    return { tiles: 16, sources: srcs.length, latency_p50_s: percentile(latencies, 0.5), latency_p95_s: percentile(latencies, 0.95) };
  },

  // destroy() and removing the element let go of the stream.
  async destroy() {
    const { page } = await openWall('?wall=4&src=' + encodeURIComponent(cameras.b));
    for (let i = 0; i < 4; i++) await waitPlaying(page, i, 0.5, 15000);
    const viewers = async () => {
      const s = (await (await fetch(decoder + '/streams')).json()).data.find((s) => s.url === cameras.b);
      return s ? s.viewers : 0;
    };
    const before = await viewers();
    await page.evaluate(() => { window.decoderWall.stop(0); window.decoderWall.tiles[1].el.remove(); });
    const deadline = Date.now() + 5000;
    let after = before;
    while (Date.now() < deadline && after > before - 2) {
      await new Promise((r) => setTimeout(r, 200));
      after = await viewers();
    }
    if (after !== before - 2) throw new Error(`viewers went from ${before} to ${after}, want ${before - 2}`);
    await page.close();
    return { viewers_before: before, viewers_after: after };
  },

  // The page speaks the browser's language: Chinese for zh-CN, English for
  // en-US, with <html lang> to match. A tile's badge is in words while its
  // data-state keeps the player's state. The logo's outlines are painted
  // whatever fonts the machine has (lang-zh.png shows them).
  async lang() {
    const look = async (locale) => {
      const page = await browser.newPage({ locale, viewport: { width: 1280, height: 800 } });
      const errors = [];
      page.on('pageerror', (err) => errors.push(String(err)));
      await page.goto(decoder + '/');
      await waitTile(page, 0, 10000, 'the demo to play', (t) => t.state === 'live' && t.frames > 0);
      const seen = await page.evaluate(() => ({
        lang: document.documentElement.lang,
        play: document.getElementById('play').textContent,
        badge: document.querySelector('.tile .state')?.textContent,
        state: /** @type {HTMLElement} */ (document.querySelector('.tile')).dataset.state,
      }));
      if (errors.length) throw new Error(`${locale}: page errors: ${errors.join('; ')}`);
      return { page, seen };
    };

    const zh = await look('zh-CN');
    const want = { lang: 'zh-CN', play: '播放', badge: '直播中', state: 'live' };
    if (JSON.stringify(zh.seen) !== JSON.stringify(want)) throw new Error(`zh-CN: saw ${JSON.stringify(zh.seen)}, want ${JSON.stringify(want)}`);
    const heading = await zh.page.getByRole('heading', { name: '解码器 decoder' }).count();
    if (heading !== 1) throw new Error(`zh-CN: ${heading} headings named 解码器 decoder, want 1`);
    const logo = zh.page.locator('h1 svg.logo');
    const box = await logo.boundingBox();
    if (!box || box.width < 10 || box.height < 10) throw new Error('zh-CN: the logo is not laid out: ' + JSON.stringify(box));
    // Painted: the logo's pixels change when its glyphs are hidden.
    const drawn = await logo.screenshot();
    await zh.page.evaluate(() => document.querySelectorAll('h1 svg.logo path').forEach((p) => p.setAttribute('visibility', 'hidden')));
    const blank = await logo.screenshot();
    await zh.page.evaluate(() => document.querySelectorAll('h1 svg.logo path').forEach((p) => p.removeAttribute('visibility')));
    if (drawn.equals(blank)) throw new Error('zh-CN: the logo paints nothing');
    await zh.page.screenshot({ path: join(outDir, 'lang-zh.png') });
    await zh.page.close();

    const en = await look('en-US');
    const wantEn = { lang: 'en', play: 'Play', badge: 'live', state: 'live' };
    if (JSON.stringify(en.seen) !== JSON.stringify(wantEn)) throw new Error(`en-US: saw ${JSON.stringify(en.seen)}, want ${JSON.stringify(wantEn)}`);
    await en.page.close();
    return { zh: zh.seen, en: en.seen, logo_px: [Math.round(box.width), Math.round(box.height)] };
  },
};

async function post(path) {
  const res = await fetch(control + path, { method: 'POST' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
}

let failed = false;
const only = process.argv.slice(2);
for (const [name, run] of Object.entries(scenarios)) {
  if (only.length ? !only.includes(name) : name === 'wall16') continue;
  const started = Date.now();
  try {
    const figures = await run();
    console.log(JSON.stringify({ scenario: name, ok: true, ms: Date.now() - started, ...figures }));
  } catch (err) {
    failed = true;
    console.log(JSON.stringify({ scenario: name, ok: false, ms: Date.now() - started, error: String(err && err.stack || err) }));
  }
}
await browser.close();
process.exit(failed ? 1 : 0);
