// End-to-end scenarios of decoder's page and player in Debian's Chromium.
// Run by e2e_test.go, which starts decoder, the RTSP cameras and a
// control endpoint, and passes them in the environment:
//
//   DECODER_URL        decoder's page, e.g. http://127.0.0.1:3000
//   DECODER_TIGHT_URL  a second decoder with -max-transcodes 1
//   CONTROL_URL        POST /camera/stop and /camera/start stop and restart camera A
//   CAMERAS            JSON: {"a": "rtsp://…", "b": …, "c": …, "h265": …, "g711": …, "bframes": …, "unreachable": …, "wrongpw": …}
//   OUT_DIR            where screenshots go
//
// Each scenario prints one JSON line with its figures; the process exits 1
// if any scenario failed.
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import { cameras, decoder, outDir, percentile, recordSockets, runScenarios, sleep, streams, tile, waitPlaying, waitRow, waitTile, wallQuery } from './common.mjs';

const control = process.env.CONTROL_URL;
const tight = process.env.DECODER_TIGHT_URL;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
});

/**
 * Opens the dashboard with query; scripts run in the page before its own.
 * @param {string} query
 * @param {Array<() => void>} scripts
 */
async function openWall(query, ...scripts) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  for (const script of [recordSockets, ...scripts]) await page.addInitScript(script);
  const opened = Date.now();
  await page.goto(decoder + '/' + query);
  return { page, errors, opened };
}

/**
 * Keeps in window.posters each poster a <video> is given, with its tile's
 * state and the video's readiness at that moment.
 */
function watchPosters() {
  window.posters = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const v = /** @type {HTMLVideoElement} */ (r.target);
      window.posters.push({ poster: v.poster, state: v.closest('.tile')?.dataset.state, readyState: v.readyState,
        frames: v.getVideoPlaybackQuality().totalVideoFrames });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['poster'] });
}

/** Keeps the URL and time (Date.now) of each fetch the page makes in window.fetches. */
function recordFetches() {
  const native = window.fetch;
  window.fetches = [];
  window.fetch = (input, init) => {
    window.fetches.push({ url: String(input instanceof Request ? input.url : input), at: Date.now() });
    return native(input, init);
  };
}

/** The /live URLs a page opened, as URL objects. */
async function sockets(page) {
  return (await page.evaluate(() => window.sockets)).map((u) => new URL(u));
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
      await sleep(500);
      t = await tile(page, 0);
      if (t.stats) latencies.push(t.stats.latency);
    } while (t.time < t0 + 3 && Date.now() - start < 10000);
    if (t.time < t0 + 3) throw new Error(`demo: media time advanced ${(t.time - t0).toFixed(2)} s in 10 s, want 3 s`);
    if (t.frames <= first.frames) throw new Error('demo: decoded frames did not grow');
    // Latency once settled.
    for (let i = 0; i < 10; i++) {
      await sleep(500);
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
      await sleep(500);
      latencies.push((await tile(page, 0)).stats.latency);
    }
    await post('/camera/stop');
    const down = await waitTile(page, 0, 15000, 'the tile to show the camera is gone', (t) => t.state === 'reconnecting');
    // Let the buffer run out, so that moving again means new frames.
    let before = await tile(page, 0);
    for (let stable = 0; stable < 5; ) {
      await sleep(100);
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

  // A wall of 9 tiles of the H.265 camera and two H.264 cameras of 720
  // lines: every tile plays, each asked for 540 lines, so the H.264
  // cameras are scaled down to 540 and the H.265 one (360 lines) made
  // H.264 at its own size; the posters were asked for at 540 too. Each
  // camera is pulled once, its three tiles sharing one output.
  async wall9() {
    const srcs = [cameras.h265, cameras.b, cameras.c];
    const { page, errors } = await openWall(wallQuery(srcs, 9));
    const played = [];
    for (let i = 0; i < 9; i++) played.push(await waitPlaying(page, i, 1, 45000));
    const posters = await page.evaluate(() => window.decoderWall.tiles.map((t) => t.el.querySelector('video').poster));
    for (const [i, t] of played.entries()) {
      if (t.asked !== 540 || t.height !== 540) throw new Error(`tile ${i} asked for ${t.asked} lines and asks now for ${t.height}, want 540`);
      const want = i % 3 === 0 ? 360 : 540;
      if (t.stats.height !== want) throw new Error(`tile ${i} plays ${t.stats.width}x${t.stats.height}, want ${want} lines`);
      if (!t.init.video.startsWith('avc1') || !t.init.transcode || !t.init.transcode.video) {
        throw new Error(`tile ${i}: init ${JSON.stringify(t.init)}, want H.264 transcoded`);
      }
    }
    const live = (await sockets(page)).filter((u) => u.pathname === '/live');
    if (live.length < 9 || live.some((u) => u.searchParams.get('height') !== '540')) {
      throw new Error('the /live URLs opened: ' + live.map((u) => u.search).join(' '));
    }
    if (posters.some((p) => !p || new URL(p).searchParams.get('height') !== '540')) throw new Error('posters: ' + posters.join(' '));
    const list = await streams();
    const bases = list.filter((s) => srcs.includes(s.url));
    const outputs = list.filter((s) => s.transcode && s.url.endsWith(' height=540'));
    if (bases.length !== 3 || outputs.length !== 3 || outputs.some((s) => s.viewers !== 3)) {
      throw new Error('want 3 sources, and 3 outputs at 540 lines with 3 viewers each; /streams says ' + JSON.stringify(list.map((s) => [s.url, s.viewers])));
    }
    await page.screenshot({ path: join(outDir, 'wall9.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return {
      tiles: 9, sources: bases.length, sizes: played.slice(0, 3).map((t) => `${t.stats.width}x${t.stats.height}`),
      transcodes: outputs.map((s) => [s.transcode.video.from, s.transcode.video.to, s.transcode.video.encoder].join(' / ')),
    };
  },

  // A camera that cannot be reached shows its reason in the tile, while
  // the H.265 camera beside it plays (transcoded where the browser takes
  // no H.265).
  async errors() {
    const { page, errors } = await openWall(wallQuery([cameras.h265, cameras.unreachable], 4));
    const hevc = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'));
    const h265 = await waitPlaying(page, 0, 1, 30000);
    const unreachable = await waitTile(page, 1, 15000, 'the unreachable camera reason', (t) => /cannot reach the camera/.test(t.reason));
    const shown = await page.evaluate(() => [...document.querySelectorAll('.tile .message')].map((m) => m.textContent).join('\n'));
    if (!shown.includes('cannot reach the camera')) throw new Error('the reason is not shown in the tile: ' + shown);
    await page.screenshot({ path: join(outDir, 'errors.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { hevc_supported: hevc, h265_tile: `${h265.state} ${h265.init.video}`, unreachable_tile: unreachable.reason };
  },

  // The H.265 camera plays in a Chromium that takes no H.265 in MSE, with
  // nothing asked of the page: the player lists what the browser plays
  // (codecs auto), decoder makes H.264 of it. The tile and the streams
  // table say so; the table's thumbnails are asked for every 10 s at most.
  async transcode() {
    const { page, errors } = await openWall(wallQuery([cameras.h265]), recordFetches);
    const hevc = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'));
    if (hevc) throw new Error('this Chromium plays H.265 in MSE: the scenario needs one that does not');
    const t = await waitPlaying(page, 0, 2, 30000);
    if (!t.init.video.startsWith('avc1.') || !t.init.transcode || !t.init.transcode.video.from.startsWith('H.265')) {
      throw new Error('init ' + JSON.stringify(t.init) + ', want H.264 made of H.265');
    }
    const out = (await streams()).find((s) => s.transcode && s.transcode.video && s.transcode.video.from.startsWith('H.265'));
    if (!out || !out.url.startsWith(cameras.h265 + ' → ')) throw new Error('/streams shows no output made of H.265: ' + JSON.stringify(await streams()));
    const want = `${out.transcode.video.from} → ${out.transcode.video.to} (${out.transcode.video.encoder})`;
    const overlay = await page.evaluate(() => window.decoderWall.tiles[0].el.querySelector('.overlay').textContent);
    if (!overlay.includes('transcoded: ' + want)) throw new Error(`the tile's overlay does not say "${want}": ${overlay}`);
    // The table: the conversion in words, and a thumbnail 72 lines high.
    const row = await waitRow(page, out.id, 15000, (r) => r.transcode === want && r.thumb[1] === 72);
    // The table is redrawn every 2 s; over 14 s: a thumbnail asked for again, no more.
    await sleep(14000);
    const byID = new Map();
    for (const f of await page.evaluate(() => window.fetches)) {
      const u = new URL(f.url, decoder);
      if (u.pathname !== '/snapshot') continue;
      const id = u.searchParams.get('id') || '';
      byID.set(id, [...(byID.get(id) || []), f.at]);
    }
    const gaps = [...byID.values()].flatMap((at) => at.slice(1).map((t, i) => t - at[i]));
    // 10 s by the page's clock, less a moment between noting the time and fetching.
    if (!byID.has(out.id) || byID.get(out.id).length < 2 || gaps.some((g) => g < 9900)) {
      throw new Error('thumbnails asked for at ' + JSON.stringify([...byID]) + ', want each again after 10 s');
    }
    const snapshots = [...byID.values()].flat();
    await page.screenshot({ path: join(outDir, 'transcode.png'), fullPage: true });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { init_video: t.init.video, transcode: want, table: row.transcode, thumb: row.thumb, thumbnail_requests: snapshots.length };
  },

  // The G.711 camera plays with sound: Chromium takes FLAC in MSE, so
  // decoder makes FLAC of the G.711, and the element decodes audio.
  async g711sound() {
    const { page, errors } = await openWall(wallQuery([cameras.g711]));
    const t = await waitPlaying(page, 0, 1, 30000);
    if (t.init.audio !== 'flac' || !t.init.transcode || !t.init.transcode.audio || t.init.transcode.audio.from !== 'G.711 A-law' || t.init.transcode.video) {
      throw new Error('init ' + JSON.stringify(t.init) + ', want FLAC made of G.711 A-law and the video as it is');
    }
    const decoded = () => page.evaluate(() => window.decoderWall.tiles[0].el.querySelector('video').webkitAudioDecodedByteCount);
    const before = await decoded();
    await sleep(2000);
    const after = await decoded();
    // Chromium counts the bytes it hands its audio decoder: about 12 kB
    // a second of this FLAC.
    if (!(after > before)) throw new Error(`audio decoded: ${before} bytes, then ${after} 2 s later; want it to grow`);
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { mime: t.init.mime, from: t.init.transcode.audio.from, audio_bytes_in_2s: after - before };
  },

  // A tile shows a picture of its source before its video plays: once
  // decoder has the source live, the tile's poster is a /snapshot of it,
  // a JPEG at the tile's height (360 lines for a wall of one, where the
  // player asks for no height). The H.265 camera, which Chromium gets
  // transcoded, shows it while decoder starts ffmpeg.
  async posters() {
    const { page, errors } = await openWall(wallQuery([cameras.h265]), watchPosters);
    const deadline = Date.now() + 30000;
    let seen;
    while (!(seen = (await page.evaluate(() => window.posters))[0]) && Date.now() < deadline) await sleep(100);
    if (!seen) throw new Error('no poster in 30 s');
    const u = new URL(seen.poster);
    if (u.pathname !== '/snapshot' || u.searchParams.get('url') !== cameras.h265 || u.searchParams.get('height') !== '360') {
      throw new Error('the poster is ' + seen.poster);
    }
    if (seen.state !== 'connecting' || seen.readyState >= 2 || seen.frames > 0) throw new Error('the poster came with the video: ' + JSON.stringify(seen));
    // What the page shows meanwhile (the picture needs a moment to be
    // made and loaded), if the video has not come yet.
    await sleep(1500);
    const before = await tile(page, 0);
    if (before.frames === 0) await page.screenshot({ path: join(outDir, 'poster.png') });
    const got = await page.evaluate(async (poster) => {
      const res = await fetch(poster);
      const blob = await res.blob();
      const img = await createImageBitmap(blob);
      return { status: res.status, type: res.headers.get('content-type'), bytes: blob.size, size: [img.width, img.height] };
    }, seen.poster);
    if (got.status !== 200 || got.type !== 'image/jpeg' || got.size[1] !== 360) throw new Error('the poster: ' + JSON.stringify(got));
    await waitPlaying(page, 0, 0.5, 30000);
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { poster: u.pathname + u.search.replace(/url=[^&]*/, 'url=…'), shown_before_video: before.frames === 0, ...got };
  },

  // With every transcode taken (a decoder with -max-transcodes 1), a
  // player that asked for a height is refused with 4429 "too many
  // transcodes" and asks again at once without it: the camera plays at
  // its own size. One that needs a transcode whatever its height (H.265
  // in Chromium) waits, told why, and plays once the transcode is free.
  async fallback() {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.addInitScript(recordSockets);
    // Any page of the tight decoder's origin, to import the player from.
    await page.goto(tight + '/decoder.js');
    await page.evaluate(async () => {
      const { DecoderPlayer } = await import('/decoder.js');
      window.players = {};
      window.start = (name, url, options) => {
        const video = document.createElement('video');
        document.body.append(video);
        const p = new DecoderPlayer(video, { url, ...options });
        window.players[name] = { p, states: [] };
        p.addEventListener('state', (e) => window.players[name].states.push(e.detail));
      };
    });
    const look = (name) => page.evaluate((name) => {
      const { p, states } = window.players[name];
      return { state: p.stats.state, reason: p.stats.reason, height: p.height, size: [p.stats.width, p.stats.height], codec: p.stats.codec,
        reconnects: p.stats.reconnects, time: p.video.currentTime, states };
    }, name);
    const until = async (name, ms, what, cond) => {
      const deadline = Date.now() + ms;
      let last;
      while (Date.now() < deadline) {
        if (cond(last = await look(name))) return last;
        await sleep(100);
      }
      throw new Error(`${name}: timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(last)}`);
    };
    // The first takes the one transcode: 720 lines made 270.
    await page.evaluate((url) => window.start('first', url, { height: 270 }), cameras.b);
    const first = await until('first', 30000, 'playback at 270 lines', (s) => s.state === 'live' && s.time > 0.5);
    if (first.size[1] !== 270 || first.height !== 270) throw new Error('first: ' + JSON.stringify(first));
    // The second is refused, and plays at 720 lines.
    const asked = Date.now();
    await page.evaluate((url) => window.start('second', url, { height: 270 }), cameras.c);
    const second = await until('second', 30000, 'playback', (s) => s.state === 'live' && s.time > 0.5);
    const secondMs = Date.now() - asked;
    if (second.height !== 0 || second.size[1] !== 720 || second.reconnects !== 1 || !second.states.some((s) => /too many transcodes/.test(s.reason))) {
      throw new Error('second: ' + JSON.stringify(second) + ', want the camera at 720 lines after one refusal');
    }
    const urls = (await sockets(page)).filter((u) => u.searchParams.get('url') === cameras.c).map((u) => u.searchParams.get('height'));
    if (JSON.stringify(urls) !== JSON.stringify(['270', null])) throw new Error('second asked ' + JSON.stringify(urls) + ', want 270 then no height');
    // The third needs a transcode anyway: it waits, told why.
    await page.evaluate((url) => window.start('third', url, { height: 270, retryMax: 1 }), cameras.h265);
    const waiting = await until('third', 30000, 'the refusal', (s) => s.state === 'reconnecting' && s.height === 0 && /too many transcodes/.test(s.reason));
    await sleep(3000);
    if ((await look('third')).time > 0) throw new Error('third played while the transcode was taken');
    await page.evaluate(() => window.players.first.p.destroy());
    const third = await until('third', 30000, 'playback once the transcode was free', (s) => s.state === 'live' && s.time > 0.5);
    if (!third.codec.startsWith('avc1')) throw new Error('third: ' + JSON.stringify(third));
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { second_size: second.size, second_ms: secondMs, third_reason: waiting.reason, third_reconnects: third.reconnects };
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
    await sleep(5000);
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
      await sleep(1000);
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

// Playwright gives each page of browser.newPage a context of its own.
const failed = await runScenarios(scenarios, ['wall16'], async () => {
  for (const context of browser.contexts()) await context.close();
});
await browser.close();
process.exit(failed ? 1 : 0);
