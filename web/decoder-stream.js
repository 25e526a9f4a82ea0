// decoder-stream.js: <decoder-stream>, a stream of decoder in a page with
// no script of the page's own. decoder.js imports it, which defines the
// element: <decoder-stream src="front-door"></decoder-stream>. Its
// attributes, events and properties are described in decoder.d.ts.

import { DecoderPlayer } from './player.js';

/**
 * @typedef {import('./decoder.js').PlayerOptions} PlayerOptions
 * @typedef {import('./decoder.js').PlayerTuning} PlayerTuning
 * @typedef {import('./decoder.js').PlayerState} PlayerState
 * @typedef {import('./decoder.js').DecoderStream} DecoderStreamAPI
 */

/** The attributes a player is made with: changing one makes a new player. */
const PLAYER_ATTRIBUTES = ['src', 'url', 'token', 'server', 'codecs', 'height', 'wall-height'];

/** The player's events, which the element passes on. */
const EVENTS = /** @type {const} */ (['state', 'init', 'status', 'stats']);

// A 16:9 box by default, like a camera's picture, whatever the video
// holds: the element's size does not change when its stream does (which
// wall-height would take for a reason to ask again). A page sizes it as
// any block, and styles the video and the reason through ::part().
const TEMPLATE = `<style>
  :host { display: block; position: relative; aspect-ratio: 16 / 9; background: #000; overflow: hidden; }
  :host([hidden]) { display: none; }
  video { display: block; width: 100%; height: 100%; object-fit: contain; }
  p { position: absolute; inset: auto 0 0 0; margin: 0; padding: .4em .6em; font: 13px/1.35 system-ui, sans-serif;
    color: #fff; background: rgba(0, 0, 0, .6); }
  p:empty { display: none; }
</style><video part="video" muted autoplay playsinline></video><p part="reason"></p>`;

/**
 * <decoder-stream>: a muted, autoplaying video of one stream, played by a
 * DecoderPlayer made of its attributes, which it makes again when they
 * change. Taken out of the document (not merely moved in it), it
 * destroys its player, which closes the viewer at once.
 * @implements {DecoderStreamAPI}
 */
export class DecoderStream extends HTMLElement {
  static get observedAttributes() {
    return [...PLAYER_ATTRIBUTES, 'sound', 'controls'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE;
    this.video = /** @type {HTMLVideoElement} */ (root.querySelector('video'));
    /** @private */
    this.reason = /** @type {HTMLElement} */ (root.querySelector('p'));
    /** @type {DecoderPlayer | null} */
    this.player = null;
    /** The height the player was made to ask for. @private */
    this.asked = 0;
    /** Whether a new player is due at the end of this task. @private */
    this.due = false;
    /** @private */
    this.resizes = new ResizeObserver(() => {
      if (this.player && this.wantedHeight() !== this.asked) this.replay();
    });
  }

  connectedCallback() {
    this.resizes.observe(this);
    if (!this.player) this.replay();
  }

  disconnectedCallback() {
    this.resizes.disconnect();
    // Moved rather than removed: it is back before this runs.
    queueMicrotask(() => {
      if (!this.isConnected) this.stop();
    });
  }

  /**
   * @param {string} name
   * @param {string | null} old
   * @param {string | null} value
   */
  attributeChangedCallback(name, old, value) {
    if (old === value) return;
    if (name === 'sound') {
      this.video.muted = value === null;
      this.video.toggleAttribute('data-sound', value !== null);
    } else if (name === 'controls') {
      this.video.controls = value !== null;
    } else {
      this.replay();
    }
  }

  /**
   * Makes a new player once the attributes changed in this task are all
   * set: a page setting src and token one after the other makes one.
   * @private
   */
  replay() {
    if (this.due) return;
    this.due = true;
    queueMicrotask(() => {
      this.due = false;
      this.stop();
      if (this.isConnected) this.start();
    });
  }

  /** @private */
  start() {
    const src = this.getAttribute('src');
    const url = this.getAttribute('url');
    if (!src && !url) return; // nothing to play yet
    if (src && url) {
      this.show('error', '<decoder-stream> plays src (a named stream) or url, not both');
      return;
    }
    const tuning = this.tuning();
    this.asked = tuning.height || 0;
    /** @type {PlayerOptions} */
    const options = src ? { src, ...tuning } : { url: url || '', ...tuning };
    let player;
    try {
      player = new DecoderPlayer(this.video, options);
    } catch (err) {
      this.show('error', String(err instanceof Error ? err.message : err)); // a server that is not a URL
      return;
    }
    this.player = player;
    this.show(player.stats.state, '');
    for (const type of EVENTS) {
      player.addEventListener(type, (e) => {
        if (player !== this.player) return;
        const detail = /** @type {CustomEvent} */ (e).detail;
        if (type === 'state') this.show(detail.state, detail.reason);
        this.dispatchEvent(new CustomEvent(type, { detail }));
      });
    }
  }

  /**
   * Destroys the player, whose 'closed' state is passed on.
   * @private
   */
  stop() {
    if (!this.player) return;
    this.player.destroy();
    this.player = null;
  }

  /**
   * The options of the attributes other than src and url.
   * @returns {PlayerTuning}
   * @private
   */
  tuning() {
    /** @type {PlayerTuning} */
    const t = {};
    const token = this.getAttribute('token');
    const server = this.getAttribute('server');
    const codecs = this.getAttribute('codecs');
    if (token) t.token = token;
    if (server) t.server = server;
    if (codecs === 'auto' || codecs === 'source') t.codecs = codecs;
    else if (codecs) t.codecs = codecs.split(',').map((c) => c.trim()).filter(Boolean);
    const height = this.wantedHeight();
    if (height) t.height = height;
    return t;
  }

  /**
   * The height to ask decoder for: height, else wall-height while the
   * element is shown no taller than that many CSS pixels (a tile of a
   * wall), else none (the source's own, for an element made large).
   * @returns {number}
   * @private
   */
  wantedHeight() {
    const fixed = Number(this.getAttribute('height'));
    if (this.hasAttribute('height')) return fixed > 0 ? fixed : 0;
    const wall = Number(this.getAttribute('wall-height'));
    if (!(wall > 0)) return 0;
    return this.getBoundingClientRect().height > wall ? 0 : wall;
  }

  /**
   * Shows a state: in the state attribute, for the page's CSS, and its
   * reason over the video while not live.
   * @param {PlayerState} state
   * @param {string} reason
   * @private
   */
  show(state, reason) {
    this.setAttribute('state', state);
    this.reason.textContent = state === 'live' || state === 'closed' ? '' : reason;
  }
}

// A second copy of the module (decoder.js loaded from two addresses)
// finds the element defined by the first.
if (!customElements.get('decoder-stream')) customElements.define('decoder-stream', DecoderStream);
