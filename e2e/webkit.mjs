// End-to-end scenarios in WebKit, the engine of Safari and of every iPhone
// browser: Debian's WebKitGTK, driven over W3C WebDriver by
// selenium-webdriver through its WebKitWebDriver. Run by e2e_webkit_test.go,
// which starts decoder with named streams (DECODER_URL, see common.mjs),
// Xvfb and WebKitWebDriver (WEBKIT_DRIVER_URL).
//
// WebKitGTK has both MediaSource and ManagedMediaSource: each scenario
// plays as the page finds them, and again as on an iPhone, where there is
// no MediaSource (embed.mjs's asIPhone hides it).
//
// Each scenario prints one JSON line with its figures; the process exits 1
// if any scenario failed.
import { Builder } from 'selenium-webdriver';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decoder, outDir, runScenarios, waitPlaying, waitTile } from './common.mjs';
import { asIPhone, checkElement, checkPhone, checkPlayer, startPages, viewerToken } from './embed.mjs';

const pages = await startPages();

/**
 * A new browser: each scenario has one, so that a media pipeline one of
 * them leaves stuck cannot hold up the next. A page that does not load in
 * 30 s, or a script that does not return in 30 s, fails instead of waiting.
 */
async function newDriver() {
  const d = await new Builder()
    .usingServer(process.env.WEBKIT_DRIVER_URL || '')
    .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { args: ['--automation'] } })
    .build();
  await d.manage().setTimeouts({ pageLoad: 30000, script: 30000 });
  return d;
}
let driver = await newDriver();

/**
 * Resolves as p does, or fails after 60 s: a WebKit whose web process hangs
 * (its media pipeline can deadlock) answers no command, not even with the
 * script timeout's error, and the scenario fails rather than the run.
 * @template T
 * @param {string} what
 * @param {Promise<T>} p
 * @returns {Promise<T>}
 */
function answered(what, p) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`WebKit did not answer ${what} in 60 s`)), 60000);
  });
  return /** @type {Promise<T>} */ (Promise.race([p, late])).finally(() => clearTimeout(timer));
}

/** @type {import('./embed.mjs').Browser} */
const b = {
  open: async (url) => {
    await answered('the page ' + url, driver.get(url));
    // Its scripts have run, modules included.
    await answered('the page ' + url, driver.wait(() => driver.executeScript(() => document.readyState === 'complete'), 30000));
  },
  evaluate: (fn, arg) => answered('a script', driver.executeScript(fn, arg)),
  screenshot: async (name) => writeFileSync(join(outDir, 'webkit-' + name), await driver.takeScreenshot(), 'base64'),
};

/**
 * Sizes the window so that the page's viewport is about width x height.
 * @param {number} width
 * @param {number} height
 */
async function viewport(width, height) {
  await driver.manage().window().setRect({ width, height });
  const inner = await b.evaluate(() => [innerWidth, innerHeight], null);
  await driver.manage().window().setRect({ width: 2 * width - inner[0], height: 2 * height - inner[1] });
}

/**
 * Plays the dashboard's tiles again as on an iPhone: MediaSource hidden,
 * the tiles' players made anew, which is all of the page that looks for
 * it.
 */
async function dashboardAsIPhone() {
  await b.evaluate(asIPhone, null);
  await b.evaluate(() => window.decoderWall.tiles.forEach((t, i) => { if (t.source) window.decoderWall.play(i, t.source); }), null);
  return waitTile(b, 0, 30000, 'ManagedMediaSource', (t) => t.stats?.mediaSource === 'ManagedMediaSource');
}

const scenarios = {
  // The dashboard plays demo://, through MediaSource, then as on an iPhone.
  async dashboard() {
    await viewport(1280, 800);
    await b.open(decoder + '/');
    const mse = await waitPlaying(b, 0, 2, 30000);
    if (mse.stats?.mediaSource !== 'MediaSource' || mse.state !== 'live') throw new Error('the tile: ' + JSON.stringify(mse));
    const families = await b.evaluate(() => window.decoderWall.tiles[0].player?.families, null);
    await b.screenshot('dashboard.png');
    await dashboardAsIPhone();
    const managed = await waitPlaying(b, 0, 2, 30000);
    if (managed.stats?.mediaSource !== 'ManagedMediaSource' || !managed.stats.streaming) throw new Error('the tile as on an iPhone: ' + JSON.stringify(managed));
    const version = (await driver.getCapabilities()).get('browserVersion');
    return { version, families, codec: mse.stats.codec, frames: mse.frames, iphone_frames: managed.frames };
  },

  // <decoder-stream> in a page of another origin, both ways. Wide, so
  // that it plays the stream as it is: WebKitGTK's GStreamer pipeline
  // fails on decoder's scaled streams with sound here ("Failed to push
  // buffer", after which its web process may hang), which Chromium plays
  // (element.mjs); Safari plays through AVFoundation, not GStreamer.
  async element() {
    await viewport(1280, 800);
    return {
      mse: await checkElement(b, pages.origin, { wide: true }),
      iphone: await checkElement(b, pages.origin, { iphone: true, wide: true }),
    };
  },

  // The player in a page of another origin, both ways; as on an iPhone,
  // endstreaming holds appends and startstreaming resumes them.
  async player() {
    await viewport(1280, 800);
    return { mse: await checkPlayer(b, pages.origin, false), iphone: await checkPlayer(b, pages.origin, true) };
  },

  // The dashboard opened from a viewer link on a phone: at an iPhone's
  // viewport size, as an iPhone plays it.
  async phone() {
    const token = await viewerToken('front-door', 'webkit');
    await viewport(390, 844);
    await b.open(decoder + '/?src=front-door&token=' + encodeURIComponent(token));
    await dashboardAsIPhone();
    const figures = await checkPhone(b);
    await b.screenshot('phone.png');
    return figures;
  },
};

const failed = await runScenarios(scenarios, [], async () => {
  await answered('quit', driver.quit());
  driver = await newDriver();
});
await answered('quit', driver.quit());
await pages.close();
process.exit(failed ? 1 : 0);
