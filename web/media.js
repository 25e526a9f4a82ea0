// media.js: one stream's media into a <video> element through Media Source
// Extensions, for player.js: MediaSource, or ManagedMediaSource where that
// is all there is (Safari on iPhone).

/**
 * @typedef {import('./codecs.js').MediaSourceClass} MediaSourceClass
 * @typedef {import('./decoder.js').PlayerStats} PlayerStats
 * @typedef {import('./decoder.js').PlayerSettings} PlayerSettings
 *
 * @typedef {object} FeedHost What a MediaFeed tells its player.
 * @property {(reason: string) => void} restart The feed cannot go on: start
 *   again from a fresh connection, which begins at a keyframe.
 * @property {(reason: string) => void} fail This browser cannot play the stream.
 * @property {() => void} appended Media was appended: the element has a picture to show.
 */

/**
 * The most operations that wait for the SourceBuffer: a tab that cannot
 * append (hidden, starved, or told by ManagedMediaSource to stop streaming
 * for long) starts again from a keyframe rather than grow without end.
 */
const MAX_QUEUE = 600;

/**
 * MediaFeed appends a stream's init segments and fragments, in order,
 * through one SourceBuffer of a MediaSource attached to the element. With
 * ManagedMediaSource, the browser says when it wants media (startstreaming)
 * and when it has enough (endstreaming): media waits in the queue between.
 */
export class MediaFeed {
  /**
   * Attaches a new media source to video, for a stream of type mime.
   * @param {HTMLVideoElement} video
   * @param {MediaSourceClass} MS MediaSource, or ManagedMediaSource
   * @param {string} mime
   * @param {number} targetLatency seconds behind the newest frame to play at
   * @param {PlayerStats} stats the player's, whose mediaSource and streaming it keeps
   * @param {FeedHost} host
   */
  constructor(video, MS, mime, targetLatency, stats, host) {
    /** @private */
    this.video = video;
    /** @private */
    this.targetLatency = targetLatency;
    /** @private */
    this.stats = stats;
    /** @private */
    this.host = host;
    /** @private @type {SourceBuffer | null} */
    this.sourceBuffer = null;
    /**
     * Operations waiting for the SourceBuffer, and, with
     * ManagedMediaSource, for the browser to want media.
     * @private @type {Array<() => void>}
     */
    this.queue = [];
    /** @private */
    this.closed = false;
    /**
     * Whether queued media may be appended: with MediaSource always, with
     * ManagedMediaSource while the browser wants media.
     */
    this.streaming = false;
    /** Where the playhead last moved, when, and the buffer's end then. @private */
    this.lastProgress = { time: -1, at: performance.now(), end: 0 };
    const managed = MS !== globalThis.MediaSource;
    const ms = new MS();
    /** @private */
    this.mediaSource = ms;
    stats.mediaSource = managed ? 'ManagedMediaSource' : 'MediaSource';
    // With MediaSource, media is always welcome.
    this.setStreaming(!managed);
    if (managed) {
      // ManagedMediaSource plays only in an element that does not offer
      // its media for remote playback (AirPlay) too.
      video.disableRemotePlayback = true;
      ms.addEventListener('startstreaming', () => this.setStreaming(true));
      ms.addEventListener('endstreaming', () => this.setStreaming(false));
    }
    /**
     * A media error of the element (its decoder failed, say) closes the
     * media source: nothing more plays until it is made anew, which a
     * fresh connection does.
     * @private
     */
    this.onError = () => {
      if (!this.closed) this.host.restart('the browser could not play the media' + (video.error && video.error.message ? ': ' + video.error.message : ''));
    };
    video.addEventListener('error', this.onError);
    /** @private */
    this.objectURL = URL.createObjectURL(ms);
    video.src = this.objectURL;
    ms.addEventListener('sourceopen', () => this.open(mime, managed), { once: true });
  }

  /** Whether the SourceBuffer exists, so that media can play. */
  get ready() {
    return this.sourceBuffer !== null;
  }

  /**
   * @param {string} mime
   * @param {boolean} managed
   * @private
   */
  open(mime, managed) {
    if (this.closed) return;
    URL.revokeObjectURL(this.objectURL);
    this.objectURL = '';
    // A browser that wanted media before this listener ran said so in
    // `streaming` already; its startstreaming may come after.
    if (managed) this.setStreaming(Boolean(/** @type {{streaming?: boolean}} */ (/** @type {unknown} */ (this.mediaSource)).streaming));
    try {
      const sb = this.mediaSource.addSourceBuffer(mime);
      sb.mode = 'segments';
      sb.addEventListener('updateend', () => this.onUpdateEnd());
      sb.addEventListener('error', () => {
        if (!this.closed) this.host.restart('media error while appending');
      });
      this.sourceBuffer = sb;
      this.next();
    } catch (err) {
      this.host.fail('cannot play ' + mime + ': ' + err);
    }
  }

  /**
   * @param {boolean} on
   * @private
   */
  setStreaming(on) {
    if (this.closed) return;
    this.streaming = this.stats.streaming = on;
    if (on) this.next();
  }

  /**
   * A new init for the same SourceBuffer: a new size or parameter sets, or
   * a new codec, which changeType handles where it exists.
   * @param {string} mime
   */
  changeType(mime) {
    this.enqueue(() => {
      const sb = this.sourceBuffer;
      if (sb && typeof sb.changeType === 'function') sb.changeType(mime);
    });
  }

  /**
   * Appends an init segment or a fragment after those before it.
   * @param {ArrayBuffer} data
   */
  append(data) {
    this.enqueue(() => this.appendNow(data));
  }

  /**
   * @param {() => void} op
   * @private
   */
  enqueue(op) {
    if (this.queue.length > MAX_QUEUE) {
      this.host.restart('the player fell too far behind');
      return;
    }
    this.queue.push(op);
    this.next();
  }

  /**
   * Runs queued operations until one keeps the SourceBuffer busy, or
   * until ManagedMediaSource ends streaming.
   * @private
   */
  next() {
    const sb = this.sourceBuffer;
    while (sb && !this.closed && this.streaming && !sb.updating && this.queue.length > 0) {
      const op = this.queue.shift();
      try {
        if (op) op();
      } catch (err) {
        this.host.restart('media error: ' + err);
        return;
      }
    }
  }

  /**
   * @param {ArrayBuffer} data
   * @private
   */
  appendNow(data) {
    const sb = this.sourceBuffer;
    if (!sb || this.mediaSource.readyState !== 'open') return;
    try {
      sb.appendBuffer(data);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError' && this.canTrim(1)) {
        // Full: drop what has been played, then try again.
        this.queue.unshift(() => this.appendNow(data));
        this.trim(1);
        return;
      }
      this.host.restart('cannot append media: ' + err);
    }
  }

  /** @private */
  onUpdateEnd() {
    if (this.closed) return;
    const v = this.video;
    const b = v.buffered;
    if (b.length > 0) {
      const end = b.end(b.length - 1);
      if (v.currentTime < b.start(0) || v.currentTime > end) v.currentTime = Math.max(b.start(b.length - 1), end - this.targetLatency);
      if (v.paused) v.play().catch(() => {});
      this.host.appended();
    }
    this.next();
  }

  /**
   * Keeps the element near the newest frame: plays faster when behind,
   * jumps when far behind, moves on from a stall, and trims what was
   * played. Called once a second; returns the latency in seconds, or -1
   * while nothing is buffered.
   * @param {PlayerSettings} o
   * @param {boolean} live whether the player is live, when a stall is one
   * @param {number} now performance.now()
   * @returns {number}
   */
  follow(o, live, now) {
    const v = this.video;
    const b = v.buffered;
    if (!this.sourceBuffer || b.length === 0) return -1;
    const end = b.end(b.length - 1);
    const latency = Math.max(0, end - v.currentTime);
    if (latency > o.jumpLatency) {
      v.currentTime = end - o.targetLatency;
    } else if (latency > o.targetLatency * 2) {
      v.playbackRate = 1.25;
    } else if (latency > o.targetLatency) {
      v.playbackRate = 1.1;
    } else {
      v.playbackRate = 1;
    }
    // A stall: the playhead has not moved for 3 s although newer media
    // has arrived since it last did.
    if (v.currentTime !== this.lastProgress.time) {
      this.lastProgress = { time: v.currentTime, at: now, end };
    } else if (now - this.lastProgress.at > 3000 && end > this.lastProgress.end && live) {
      this.lastProgress = { time: v.currentTime, at: now, end };
      v.currentTime = Math.max(b.start(b.length - 1), end - o.targetLatency);
      if (v.paused) v.play().catch(() => {});
    }
    this.trim(o.keepBuffer);
    return latency;
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
   * @private
   */
  canTrim(keep) {
    const b = this.video.buffered;
    return b.length > 0 && this.video.currentTime - keep > b.start(0) + 1;
  }

  /** Detaches the media source from the element and drops what waits for it. */
  close() {
    this.closed = true;
    this.queue = [];
    this.sourceBuffer = null;
    this.streaming = this.stats.streaming = false;
    this.video.removeEventListener('error', this.onError);
    if (this.objectURL) {
      URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
    }
    this.video.removeAttribute('src');
    this.video.load();
  }
}
