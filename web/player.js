// player.js: DecoderPlayer, which plays a decoder /live stream in a <video>
// element through Media Source Extensions (MediaSource, or
// ManagedMediaSource on an iPhone). Pages import it from decoder.js; its
// types, and what each option and event means, are in decoder.d.ts.

import { supportedFamilies, mediaSourceClass, withoutUnplayable } from './codecs.js';
import { MediaFeed } from './media.js';

/**
 * @typedef {import('./decoder.js').PlayerOptions} PlayerOptions
 * @typedef {import('./decoder.js').PlayerSettings} PlayerSettings
 * @typedef {import('./decoder.js').PlayerState} PlayerState
 * @typedef {import('./decoder.js').PlayerStats} PlayerStats
 * @typedef {import('./decoder.js').InitMessage} InitMessage
 * @typedef {import('./decoder.js').DecoderPlayerEventMap} DecoderPlayerEventMap
 * @typedef {import('./decoder.js').DecoderPlayer} DecoderPlayerAPI
 */

/**
 * Close codes after which reconnecting cannot help: the same request would
 * get the same answer, and for a camera with wrong credentials another
 * failed login (cameras lock accounts for that). decoder's protocol.go lists
 * the same codes as final; a test keeps the two in step.
 */
const FINAL_CLOSES = new Set([1000, 1007, 1008, 1009, 1011, 4400, 4401, 4403, 4404, 4415]);

/**
 * DecoderPlayer plays one source in one <video> element and keeps it
 * playing: it reconnects by itself with backoff, follows the live edge,
 * recovers from stalls, and stops when destroy() is called or the element
 * leaves the document. It dispatches 'state', 'init' (the init message,
 * with what decoder transcodes for this browser), 'status' (decoder's word
 * on the source: connecting, live once the camera sends pictures,
 * reconnecting with the reason, ended) and 'stats' events.
 *
 * A close 4429 ("too many": viewers, sources or transcodes) is retried
 * with backoff, except one for too many transcodes while a height was
 * asked for: that is retried at once without the height.
 *
 * @implements {DecoderPlayerAPI}
 */
export class DecoderPlayer extends EventTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {PlayerOptions} options
   */
  constructor(video, options) {
    super();
    if (!video || !options || !options.url === !options.src) {
      throw new TypeError('DecoderPlayer needs a video element and exactly one of options.url and options.src');
    }
    this.video = video;
    /** @type {PlayerSettings} */
    this.options = {
      server: new URL('.', import.meta.url).origin,
      codecs: 'auto',
      targetLatency: 0.5,
      jumpLatency: 3,
      keepBuffer: 10,
      retryMin: 0.5,
      retryMax: 10,
      ...options,
    };
    // A server that is not a URL throws here, before anything runs.
    new URL('/live', this.options.server);
    this.families = supportedFamilies();
    this.height = this.options.height || 0;
    /** @type {PlayerStats} */
    this.stats = {
      state: 'connecting', reason: '', mime: '', codec: '', width: 0, height: 0, fps: 0,
      bitrate: 0, latency: 0, drops: 0, reconnects: 0, bytes: 0, frames: 0, mediaSource: '', streaming: false,
    };
    /** @private @type {WebSocket | null} */
    this.ws = null;
    /** @private @type {MediaFeed | null} */
    this.feed = null;
    /** @private */
    this.expectSegment = false;
    /** @private */
    this.failures = 0;
    /** @private */
    this.destroyed = false;
    /** @private @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @private */
    this.window = { bytes: 0, frames: 0 };
    /** @private */
    this.lastData = performance.now();
    video.muted = video.muted || !video.hasAttribute('data-sound');
    video.playsInline = true;
    /** @private */
    this.tick = setInterval(() => this.onTick(), 1000);
    this.connect();
  }

  /** Stops playing and releases the connection and the media buffers. */
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.tick);
    clearTimeout(this.retryTimer);
    this.closeSocket(1000, 'player destroyed');
    this.resetMedia();
    this.setState('closed', '');
  }

  /**
   * Dispatches one of the player's events.
   * @template {keyof DecoderPlayerEventMap} K
   * @param {K} type
   * @param {DecoderPlayerEventMap[K]['detail']} detail
   * @private
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {PlayerState} state
   * @param {string} reason
   * @private
   */
  setState(state, reason) {
    if (this.stats.state === state && this.stats.reason === reason) return;
    this.stats.state = state;
    this.stats.reason = reason;
    this.emit('state', { state, reason });
  }

  /**
   * The /live address this player asks for now: the source (url= or src=),
   * the token, and what this browser plays.
   * @returns {URL}
   */
  liveURL() {
    const o = this.options;
    const u = new URL('/live', o.server);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (o.src) u.searchParams.set('src', o.src);
    else u.searchParams.set('url', o.url || '');
    if (o.token) u.searchParams.set('token', o.token);
    if (o.start) u.searchParams.set('start', o.start);
    if (o.transport) u.searchParams.set('transport', o.transport);
    const families = Array.isArray(o.codecs) ? o.codecs : o.codecs === 'source' ? [] : this.families;
    if (families.length) u.searchParams.set('codecs', families.join(','));
    if (this.height) u.searchParams.set('height', String(Math.round(this.height)));
    return u;
  }

  /** @private */
  connect() {
    if (this.destroyed) return;
    const o = this.options;
    const u = this.liveURL();
    this.resetMedia();
    this.expectSegment = false;
    this.lastData = performance.now();
    const ws = new WebSocket(u);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    /** @type {string} */
    let errorText = '';
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      this.lastData = performance.now();
      if (typeof e.data === 'string') {
        const text = this.onText(e.data);
        if (text) errorText = text;
      } else {
        this.onBinary(e.data);
      }
    };
    ws.onclose = (e) => {
      if (ws !== this.ws || this.destroyed) return;
      this.ws = null;
      const reason = errorText || e.reason || (e.code === 1006 ? 'cannot reach decoder at ' + o.server : 'closed (' + e.code + ')');
      if (e.code === 1006 && !opened) {
        // Refused before the upgrade, or decoder cannot be reached: the
        // browser does not say which.
        this.refusal().then((refused) => {
          if (this.destroyed || this.ws) return;
          if (refused) this.setState('error', refused);
          else this.scheduleReconnect(reason);
        });
        return;
      }
      if (FINAL_CLOSES.has(e.code)) {
        this.setState(e.code === 1000 ? 'ended' : 'error', reason);
        return;
      }
      if (e.code === 4429 && this.height && /too many transcodes/.test(reason)) {
        // Scaling needs a transcode and decoder has none left: the source
        // at its own height plays now (where the browser takes its
        // codecs); waiting for a free transcode might take forever.
        this.height = 0;
        this.setState('reconnecting', reason + ' (asking again without the height)');
        this.stats.reconnects++;
        this.connect();
        return;
      }
      this.scheduleReconnect(reason);
    };
  }

  /**
   * Tells why a WebSocket closed before it opened, which the browser hides:
   * when decoder answers a request made without CORS but refuses the same
   * with CORS, it does not allow this page's origin, and asking again
   * cannot help; the reason says how to allow it. Anything else (decoder
   * stopped, a network that failed) gives '' and the player calls again.
   * @returns {Promise<string>}
   * @private
   */
  async refusal() {
    const u = new URL('/version', this.options.server);
    try {
      await fetch(u, { mode: 'no-cors', cache: 'no-store' });
    } catch {
      return ''; // not there at all
    }
    try {
      await fetch(u, { cache: 'no-store' });
      return '';
    } catch {
      // Refused for the page's origin, or for the name decoder is reached
      // by (its Host check): an address or localhost always passes that.
      const origin = location.origin;
      const byName = !/^(\d+(\.\d+){3}|\[.*\]|localhost)$/.test(u.hostname);
      return `decoder at ${u.origin} refuses pages from ${origin}: start it with -allowed-origins ${origin}` +
        (byName ? ` (and with -allowed-hosts ${u.hostname}, unless it lists that name)` : '');
    }
  }

  /**
   * @param {string} reason
   * @private
   */
  scheduleReconnect(reason) {
    const o = this.options;
    const base = Math.min(o.retryMax, o.retryMin * 2 ** this.failures);
    const delay = base * (0.75 + Math.random() / 2);
    this.failures++;
    this.setState('reconnecting', reason);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.stats.reconnects++;
      this.connect();
    }, delay * 1000);
  }

  /**
   * @param {number} code
   * @param {string} reason
   * @private
   */
  closeSocket(code, reason) {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code, reason);
  }

  /**
   * Handles a JSON message and returns the text of an error message.
   * @param {string} data
   * @returns {string}
   * @private
   */
  onText(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return ''; }
    switch (msg.type) {
      case 'init':
        this.onInit(/** @type {InitMessage} */ (msg));
        break;
      case 'status':
        this.emit('status', { state: String(msg.state), reason: String(msg.reason || '') });
        if (msg.state === 'live') {
          if (this.feed && this.feed.ready) this.setState('live', '');
        } else if (msg.state === 'reconnecting') {
          this.setState('reconnecting', 'the source is reconnecting: ' + (msg.reason || ''));
        } else if (msg.state === 'connecting') {
          this.setState('connecting', msg.reason || 'decoder is connecting to the source');
        }
        break;
      case 'stats':
        this.stats.drops = msg.drops || 0;
        break;
      case 'error':
        return msg.message || '';
    }
    return '';
  }

  /**
   * @param {InitMessage} info
   * @private
   */
  onInit(info) {
    const s = this.stats;
    s.mime = info.mime;
    s.codec = info.video.codec;
    s.width = info.video.width;
    s.height = info.video.height;
    this.emit('init', info);
    const MS = mediaSourceClass();
    if (!MS) {
      this.closeSocket(1000, 'no Media Source Extensions');
      this.setState('error', 'this browser has no Media Source Extensions (neither MediaSource nor ManagedMediaSource; on an iPhone, iOS 17.1 or later has them)');
      return;
    }
    const auto = !this.options.codecs || this.options.codecs === 'auto';
    const left = auto && !MS.isTypeSupported(info.mime) ? withoutUnplayable(this.families, info) : this.families;
    if (left.length < this.families.length) {
      // A family the browser claimed, which it cannot play at this
      // stream's profile or level: ask decoder again without it, and
      // decoder converts it (codecs 'auto' only).
      this.families = left;
      this.closeSocket(1000, 'codec not supported');
      this.scheduleReconnect('asking for another codec: this browser cannot play ' + info.mime);
      return;
    }
    if (!MS.isTypeSupported(info.mime)) {
      const what = info.video.format + (info.audio ? ' with ' + info.audio.format : '');
      const hint = info.video.format === 'H.265' ? ' (H.265 plays only where the browser and system have a hardware decoder for it)' : '';
      this.closeSocket(1000, 'codec not supported');
      this.setState('error', 'this browser cannot play ' + what + ' (' + info.mime + ')' + hint);
      return;
    }
    this.expectSegment = true;
    if (this.feed && this.feed.ready) {
      this.feed.changeType(info.mime);
      return;
    }
    if (this.feed) this.feed.close();
    this.feed = new MediaFeed(this.video, MS, info.mime, this.options.targetLatency, s, {
      restart: (reason) => this.restart(reason),
      fail: (reason) => {
        this.setState('error', reason);
        this.closeSocket(1000, 'codec not supported');
      },
      appended: () => {
        if (this.stats.state !== 'live' && this.ws) this.setState('live', '');
      },
    });
  }

  /**
   * @param {ArrayBuffer} data
   * @private
   */
  onBinary(data) {
    if (!this.feed) return; // nothing to play it with
    this.stats.bytes += data.byteLength;
    this.window.bytes += data.byteLength;
    if (this.expectSegment) {
      this.expectSegment = false;
    } else if (isVideoFragment(data)) {
      this.stats.frames++;
      this.window.frames++;
    }
    this.feed.append(data);
  }

  /**
   * Once a second: the live edge, stalls and trimming (by the feed), stats,
   * a dead connection, and the element's life.
   * @private
   */
  onTick() {
    if (!this.video.isConnected) {
      this.destroy();
      return;
    }
    const now = performance.now();
    const s = this.stats;
    s.bitrate = this.window.bytes * 8;
    s.fps = this.window.frames;
    this.window = { bytes: 0, frames: 0 };
    const latency = this.feed ? this.feed.follow(this.options, s.state === 'live', now) : -1;
    if (latency >= 0) {
      s.latency = latency;
      if (s.state === 'live' && latency < this.options.jumpLatency) this.failures = 0;
    }
    // Nothing at all for 15 s (not even stats, sent every second): the
    // connection is dead even if the socket does not know it yet.
    if (this.ws && now - this.lastData > 15000) {
      this.closeSocket(4000, 'no data');
      this.scheduleReconnect('no data from decoder for 15 s');
    }
    this.emit('stats', { ...s });
  }

  /**
   * Starts again from a fresh connection: the next one begins at a keyframe.
   * @param {string} reason
   * @private
   */
  restart(reason) {
    this.closeSocket(1000, 'restarting');
    this.scheduleReconnect(reason);
  }

  /**
   * Drops the media source and what waits for it.
   * @private
   */
  resetMedia() {
    if (this.feed) this.feed.close();
    this.feed = null;
  }
}

/**
 * Reports whether a moof+mdat fragment belongs to the video track (track 1
 * in decoder's streams).
 * @param {ArrayBuffer} data
 * @returns {boolean}
 */
function isVideoFragment(data) {
  const v = new DataView(data);
  // moof > mfhd (16 bytes) > traf > tfhd: track ID at a fixed place.
  if (data.byteLength < 48 || v.getUint32(4) !== 0x6d6f6f66) return false;
  return v.getUint32(44) === 1;
}
