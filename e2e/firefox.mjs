// End-to-end scenarios of decoder's page and player in a second engine:
// Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core (no
// browser download, no geckodriver). Run by e2e_test.go's TestFirefox with
// the environment e2e.mjs gets (common.mjs reads it), and FIREFOX, the
// browser's path.
//
// Each scenario prints one JSON line with its figures; the process exits 1
// if any scenario failed.
import puppeteer from 'puppeteer-core';
import { join } from 'node:path';
import { cameras, decoder, outDir, runScenarios, sleep, streams, tile, waitPlaying, wallQuery } from './common.mjs';

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  protocol: 'webDriverBiDi',
  headless: true,
  extraPrefsFirefox: {
    // Media may start, with sound, without a user's gesture: there is
    // none in a test.
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
    'media.autoplay.block-webaudio': false,
    // Audio goes to a mock output rather than a sound card, which test
    // machines lack: without one an AudioContext never runs.
    'media.cubeb.force_mock_context': true,
  },
});

/** @param {string} query */
async function openWall(query) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(decoder + '/' + query);
  return { page, errors };
}

/** What this Firefox tells MediaSource it plays, by decoder's families. */
async function families(page) {
  return page.evaluate(async () => (await import('/codecs.js')).supportedFamilies());
}

const scenarios = {
  // The page plays demo:// with no other step.
  async demo() {
    const { page, errors } = await openWall('');
    const t = await waitPlaying(page, 0, 3, 30000);
    if (t.state !== 'live') throw new Error('the tile is ' + t.state);
    await page.screenshot({ path: join(outDir, 'firefox-demo.png') });
    const plays = await families(page);
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { version: await browser.version(), families: plays, codec: t.stats.codec, frames: t.frames, latency_s: t.stats.latency };
  },

  // The H.265 camera plays: as it is where Firefox says it plays H.265 in
  // MSE, made H.264 by decoder where it does not.
  async h265() {
    const { page, errors } = await openWall(wallQuery([cameras.h265]));
    const plays = await families(page);
    const hevc = plays.includes('hvc1');
    const t = await waitPlaying(page, 0, 2, 30000);
    const transcoded = Boolean(t.init.transcode && t.init.transcode.video);
    if (hevc ? !/^(hvc1|hev1)\./.test(t.init.video) || transcoded : !t.init.video.startsWith('avc1.') || !transcoded) {
      throw new Error(`Firefox ${hevc ? 'plays' : 'does not play'} H.265, yet the init is ${JSON.stringify(t.init)}`);
    }
    const outputs = (await streams()).filter((s) => s.transcode && s.url.startsWith(cameras.h265));
    if (outputs.length !== (hevc ? 0 : 1)) throw new Error('/streams shows transcodes ' + JSON.stringify(outputs));
    await page.screenshot({ path: join(outDir, 'firefox-h265.png') });
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { hevc_supported: hevc, played: hevc ? 'passthrough' : 'transcoded', codec: t.init.video, frames: t.frames };
  },

  // The G.711 camera plays with sound: Firefox takes FLAC in MSE, so
  // decoder makes FLAC of the G.711; the element has an audio track
  // (mozHasAudio), and what it plays, routed through an analyser, is not
  // silence (the camera sends a 440 Hz tone).
  async g711sound() {
    const { page, errors } = await openWall(wallQuery([cameras.g711]));
    const t = await waitPlaying(page, 0, 1, 30000);
    if (!t.init.audio || !t.init.transcode || !t.init.transcode.audio || t.init.transcode.audio.from !== 'G.711 A-law') {
      throw new Error('init ' + JSON.stringify(t.init) + ', want audio made of G.711 A-law');
    }
    const heard = await page.evaluate(async () => {
      const video = window.decoderWall.tiles[0].el.querySelector('video');
      video.muted = false;
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaElementSource(video).connect(analyser);
      analyser.connect(ctx.destination);
      await ctx.resume();
      const samples = new Float32Array(analyser.fftSize);
      const bins = new Float32Array(analyser.frequencyBinCount);
      let peak = 0;
      let loudestHz = 0;
      const start = video.currentTime;
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        analyser.getFloatTimeDomainData(samples);
        const p = samples.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        if (p > peak) {
          peak = p;
          analyser.getFloatFrequencyData(bins);
          loudestHz = bins.indexOf(Math.max(...bins)) * ctx.sampleRate / analyser.fftSize;
        }
      }
      const result = { hasAudio: video.mozHasAudio, peak, loudestHz, advanced: video.currentTime - start, context: ctx.state };
      await ctx.close();
      return result;
    });
    if (!heard.hasAudio || heard.advanced < 1 || heard.peak < 0.01 || Math.abs(heard.loudestHz - 440) > 50) {
      throw new Error('the element plays ' + JSON.stringify(heard) + ': want an audio track, a 440 Hz tone and the time advancing');
    }
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    await page.close();
    return { mime: t.init.mime, from: t.init.transcode.audio.from, to: t.init.transcode.audio.to, ...heard };
  },
};

const failed = await runScenarios(scenarios, [], async () => {
  // All but the tab the browser started with, which keeps it open.
  for (const page of (await browser.pages()).slice(1)) await page.close();
});
await browser.close();
process.exit(failed ? 1 : 0);
