// decoder.js: plays a decoder /live stream in a <video> element through
// Media Source Extensions. A dependency-free ES module, served by decoder at
// /decoder.js:
//
//   import { DecoderPlayer } from 'http://127.0.0.1:3000/decoder.js';
//   const player = new DecoderPlayer(video, { url: 'rtsp://camera/stream' });
//   player.addEventListener('state', (e) => console.log(e.detail.state, e.detail.reason));
//   player.addEventListener('stats', (e) => console.log(e.detail));
//   // later: player.destroy();
//
// It imports codecs.js, served beside it.

import { supportedFamilies, familyOf } from './codecs.js';

// Part of the player's API: which codec families codecs: 'auto' asks for.
export { supportedFamilies };

/**
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'error' | 'ended' | 'closed'} PlayerState
 *
 * @typedef {object} PlayerOptions
 * @property {string} url The source: rtsp://…, demo://, file:///clip.ts, …
 * @property {string} [server] decoder's address, e.g. http://127.0.0.1:3000;
 *   by default the address this module was loaded from.
 * @property {number} [targetLatency] Seconds behind the newest buffered frame
 *   the player aims at (default 0.5); it speeds up when further behind.
 * @property {number} [jumpLatency] Seconds behind at which it jumps to the
 *   live edge instead of speeding up (default 3).
 * @property {number} [keepBuffer] Seconds of played media kept behind the
 *   playhead; older media is removed (default 10).
 * @property {'buffered' | 'next'} [start] Where a viewer of a running source
 *   begins: at once from the buffered keyframe (default), or at the next one.
 * @property {'tcp' | 'udp'} [transport] RTSP transport (default tcp).
 * @property {string[] | 'auto' | 'source'} [codecs] Codec families this browser plays
 *   (avc1, hvc1, mp4a, flac, opus): decoder transcodes what is not listed.
 *   'auto' (default) asks MediaSource.isTypeSupported; 'source' asks for the
 *   source as it is.
 * @property {number} [height] Largest picture height wanted: a taller
 *   source is scaled down by decoder (a wall of small tiles need not
 *   decode 4K sixteen times). Scaling takes one of decoder's
 *   -max-transcodes; when none is left (close 4429, "too many
 *   transcodes"), the player reconnects at once without the height and
 *   keeps to that, so that the source plays at its own size rather than
 *   not at all. `player.height` is the height it asks for now.
 * @property {number} [retryMin] First reconnection wait in seconds (default 0.5).
 * @property {number} [retryMax] Longest reconnection wait in seconds (default 10).
 *
 * @typedef {object} PlayerStats
 * @property {PlayerState} state
 * @property {string} reason Why the state is what it is, when known.
 * @property {string} mime The MIME type of the stream, with its codecs.
 * @property {string} codec Video codec string, e.g. avc1.4d401f.
 * @property {number} width
 * @property {number} height
 * @property {number} fps Frames per second received, over the last second.
 * @property {number} bitrate Bits per second received, over the last second.
 * @property {number} latency Seconds between the playhead and the newest frame.
 * @property {number} drops Messages the server skipped for this viewer.
 * @property {number} reconnects Times the player reconnected.
 * @property {number} bytes Bytes received in all.
 * @property {number} frames Video frames received in all.
 *
 * @typedef {object} TrackConversion
 * @property {string} from
 * @property {string} to
 * @property {string} encoder
 *
 * @typedef {object} InitMessage
 * @property {'init'} type
 * @property {string} mime
 * @property {{codec: string, format: string, width: number, height: number, fps?: number}} video
 * @property {{codec: string, format: string, sample_rate: number, channels: number}} [audio]
 * @property {{video?: TrackConversion, audio?: TrackConversion}} [transcode] What decoder
 *   converts for this browser.
 * @property {string} [note] Anything else to know, such as audio this browser cannot play.
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
 */
export class DecoderPlayer extends EventTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {PlayerOptions} options
   */
  constructor(video, options) {
    super();
    if (!video || !options || !options.url) throw new TypeError('DecoderPlayer needs a video element and options.url');
    this.video = video;
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
    /**
     * The families asked for with codecs=auto: what the browser says it
     * plays, less any it turned out not to play at a stream's own profile.
     * @type {string[]}
     */
    this.families = supportedFamilies();
    /**
     * The height asked for: options.height, or 0 once decoder had no
     * transcode left to scale with (see PlayerOptions.height).
     * @type {number}
     */
    this.height = this.options.height || 0;
    /** @type {PlayerStats} */
    this.stats = {
      state: 'connecting', reason: '', mime: '', codec: '', width: 0, height: 0, fps: 0,
      bitrate: 0, latency: 0, drops: 0, reconnects: 0, bytes: 0, frames: 0,
    };
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {MediaSource | null} */
    this.mediaSource = null;
    /** @type {SourceBuffer | null} */
    this.sourceBuffer = null;
    /** @type {Array<() => void>} operations waiting for the SourceBuffer */
    this.queue = [];
    this.objectURL = '';
    this.expectSegment = false;
    this.failures = 0;
    this.destroyed = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    this.window = { bytes: 0, frames: 0 };
    this.lastProgress = { time: -1, at: performance.now(), end: 0 };
    this.lastData = performance.now();
    video.muted = video.muted || !video.hasAttribute('data-sound');
    video.playsInline = true;
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

  /** @param {PlayerState} state @param {string} reason */
  setState(state, reason) {
    if (this.stats.state === state && this.stats.reason === reason) return;
    this.stats.state = state;
    this.stats.reason = reason;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, reason } }));
  }

  connect() {
    if (this.destroyed) return;
    const o = this.options;
    const u = new URL('/live', o.server);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('url', o.url);
    if (o.start) u.searchParams.set('start', o.start);
    if (o.transport) u.searchParams.set('transport', o.transport);
    const families = Array.isArray(o.codecs) ? o.codecs : o.codecs === 'source' ? [] : this.families;
    if (families.length) u.searchParams.set('codecs', families.join(','));
    if (this.height) u.searchParams.set('height', String(Math.round(this.height)));
    this.resetMedia();
    this.expectSegment = false;
    this.lastData = performance.now();
    const ws = new WebSocket(u);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    /** @type {string} */
    let errorText = '';
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

  /** @param {string} reason */
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
   */
  onText(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return ''; }
    switch (msg.type) {
      case 'init':
        this.onInit(/** @type {InitMessage} */ (msg));
        break;
      case 'status':
        this.dispatchEvent(new CustomEvent('status', { detail: { state: String(msg.state), reason: String(msg.reason || '') } }));
        if (msg.state === 'live') {
          if (this.sourceBuffer) this.setState('live', '');
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

  /** @param {InitMessage} info */
  onInit(info) {
    const s = this.stats;
    s.mime = info.mime;
    s.codec = info.video.codec;
    s.width = info.video.width;
    s.height = info.video.height;
    this.dispatchEvent(new CustomEvent('init', { detail: info }));
    if ('MediaSource' in window && !MediaSource.isTypeSupported(info.mime) && this.dropUnplayable(info)) {
      // A family the browser claimed, which it cannot play at this
      // stream's profile or level: ask decoder again without it.
      this.closeSocket(1000, 'codec not supported');
      this.scheduleReconnect('asking for another codec: this browser cannot play ' + info.mime);
      return;
    }
    if (!('MediaSource' in window) || !MediaSource.isTypeSupported(info.mime)) {
      const what = info.video.format + (info.audio ? ' with ' + info.audio.format : '');
      const hint = info.video.format === 'H.265' ? ' (H.265 plays only where the browser and system have a hardware decoder for it)' : '';
      this.closeSocket(1000, 'codec not supported');
      this.setState('error', 'this browser cannot play ' + what + ' (' + info.mime + ')' + hint);
      return;
    }
    this.expectSegment = true;
    if (this.sourceBuffer && this.mediaSource) {
      const sb = this.sourceBuffer;
      // A new init for the same SourceBuffer: a new size or parameter sets,
      // or a new codec, which changeType handles where it exists.
      this.enqueue(() => {
        if (typeof sb.changeType === 'function') sb.changeType(info.mime);
      });
      return;
    }
    const ms = new MediaSource();
    this.mediaSource = ms;
    this.objectURL = URL.createObjectURL(ms);
    this.video.src = this.objectURL;
    this.queue = [];
    ms.addEventListener('sourceopen', () => {
      if (ms !== this.mediaSource) return;
      URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
      try {
        const sb = ms.addSourceBuffer(info.mime);
        sb.mode = 'segments';
        sb.addEventListener('updateend', () => this.onUpdateEnd());
        sb.addEventListener('error', () => this.restart('media error while appending'));
        this.sourceBuffer = sb;
        this.next();
      } catch (err) {
        this.setState('error', 'cannot play ' + info.mime + ': ' + err);
        this.closeSocket(1000, 'codec not supported');
      }
    }, { once: true });
  }

  /**
   * Removes from the families asked for those of the stream's tracks the
   * browser refuses, and reports whether there was any; only with
   * codecs=auto, where decoder can then convert them.
   * @param {InitMessage} info
   * @returns {boolean}
   */
  dropUnplayable(info) {
    const o = this.options;
    if (o.codecs && o.codecs !== 'auto') return false;
    const before = this.families.length;
    const video = familyOf(info.video.codec);
    if (video !== 'avc1' && !MediaSource.isTypeSupported('video/mp4; codecs="' + info.video.codec + '"')) {
      this.families = this.families.filter((f) => f !== video);
    }
    if (info.audio && !MediaSource.isTypeSupported('audio/mp4; codecs="' + info.audio.codec + '"')) {
      const audio = familyOf(info.audio.codec);
      this.families = this.families.filter((f) => f !== audio);
    }
    return this.families.length < before;
  }

  /** @param {ArrayBuffer} data */
  onBinary(data) {
    if (!this.mediaSource) return; // nothing to play it with
    this.stats.bytes += data.byteLength;
    this.window.bytes += data.byteLength;
    if (this.expectSegment) {
      this.expectSegment = false;
    } else if (isVideoFragment(data)) {
      this.stats.frames++;
      this.window.frames++;
    }
    this.enqueue(() => this.append(data));
  }

  /** @param {() => void} op */
  enqueue(op) {
    // The queue is bounded: a tab that cannot append (hidden, starved)
    // starts again from a keyframe rather than grow without end.
    if (this.queue.length > 600) {
      this.restart('the player fell too far behind');
      return;
    }
    this.queue.push(op);
    this.next();
  }

  /** Runs queued operations until one keeps the SourceBuffer busy. */
  next() {
    const sb = this.sourceBuffer;
    while (sb && sb === this.sourceBuffer && !sb.updating && this.queue.length > 0) {
      const op = this.queue.shift();
      try {
        if (op) op();
      } catch (err) {
        this.restart('media error: ' + err);
        return;
      }
    }
  }

  /** @param {ArrayBuffer} data */
  append(data) {
    const sb = this.sourceBuffer;
    if (!sb || !this.mediaSource || this.mediaSource.readyState !== 'open') return;
    try {
      sb.appendBuffer(data);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError' && this.canTrim(1)) {
        // Full: drop what has been played, then try again.
        this.queue.unshift(() => this.append(data));
        this.trim(1);
        return;
      }
      this.restart('cannot append media: ' + err);
    }
  }

  onUpdateEnd() {
    const v = this.video;
    const b = v.buffered;
    if (b.length > 0) {
      const end = b.end(b.length - 1);
      if (v.currentTime < b.start(0) || v.currentTime > end) v.currentTime = Math.max(b.start(b.length - 1), end - this.options.targetLatency);
      if (v.paused) v.play().catch(() => {});
      if (this.stats.state !== 'live' && this.ws) this.setState('live', '');
    }
    this.next();
  }

  /**
   * Removes media more than keep seconds behind the playhead.
   * @param {number} keep
   */
  trim(keep) {
    const sb = this.sourceBuffer;
    if (!sb || !this.canTrim(keep)) return;
    const until = this.video.currentTime - keep;
    // First in line; the operation that waits runs after its updateend.
    this.queue.unshift(() => sb.remove(0, until));
    this.next();
  }

  /**
   * Reports whether more than a second of media lies over keep seconds
   * behind the playhead.
   * @param {number} keep
   * @returns {boolean}
   */
  canTrim(keep) {
    const b = this.video.buffered;
    return b.length > 0 && this.video.currentTime - keep > b.start(0) + 1;
  }

  /** Once a second: live edge, stalls, trimming, stats, and the element's life. */
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
    const v = this.video;
    const b = v.buffered;
    if (b.length > 0 && this.sourceBuffer) {
      const end = b.end(b.length - 1);
      s.latency = Math.max(0, end - v.currentTime);
      const o = this.options;
      if (s.latency > o.jumpLatency) {
        v.currentTime = end - o.targetLatency;
      } else if (s.latency > o.targetLatency * 2) {
        v.playbackRate = 1.25;
      } else if (s.latency > o.targetLatency) {
        v.playbackRate = 1.1;
      } else {
        v.playbackRate = 1;
      }
      // A stall: the playhead has not moved for 3 s although newer media
      // has arrived since it last did.
      if (v.currentTime !== this.lastProgress.time) {
        this.lastProgress = { time: v.currentTime, at: now, end };
      } else if (now - this.lastProgress.at > 3000 && end > this.lastProgress.end && s.state === 'live') {
        this.lastProgress = { time: v.currentTime, at: now, end };
        v.currentTime = Math.max(b.start(b.length - 1), end - o.targetLatency);
        if (v.paused) v.play().catch(() => {});
      }
      this.trim(this.options.keepBuffer);
      if (s.state === 'live' && s.latency < this.options.jumpLatency) this.failures = 0;
    }
    // Nothing at all for 15 s (not even stats, sent every second): the
    // connection is dead even if the socket does not know it yet.
    if (this.ws && now - this.lastData > 15000) {
      this.closeSocket(4000, 'no data');
      this.scheduleReconnect('no data from decoder for 15 s');
    }
    this.dispatchEvent(new CustomEvent('stats', { detail: { ...s } }));
  }

  /**
   * Starts again from a fresh connection: the next one begins at a keyframe.
   * @param {string} reason
   */
  restart(reason) {
    this.closeSocket(1000, 'restarting');
    this.scheduleReconnect(reason);
  }

  /** Drops the MediaSource and what waits for it. */
  resetMedia() {
    this.queue = [];
    this.sourceBuffer = null;
    if (this.objectURL) {
      URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
    }
    if (this.mediaSource) {
      this.mediaSource = null;
      this.video.removeAttribute('src');
      this.video.load();
    }
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
