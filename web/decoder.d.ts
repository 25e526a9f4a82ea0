// Types of decoder's player module, /decoder.js: DecoderPlayer, the
// <decoder-stream> element, and what they take and tell. decoder serves
// this file at /decoder.d.ts, for pages written in TypeScript. The modules
// take their types from it (player.js, decoder-stream.js) and declare that
// they implement it, so that `tsc --checkJs --strict` (e2e/tsconfig.json)
// fails when the two part.

export type PlayerState = 'connecting' | 'live' | 'reconnecting' | 'error' | 'ended' | 'closed';

/** What a player plays: a source URL, or a stream named in decoder's configuration. */
export type PlayerSource =
  | {
      /** The source: rtsp://…, demo://, file:///clip.ts, … */
      url: string;
      src?: undefined;
    }
  | {
      /**
       * A stream named in decoder's configuration, e.g. front-door: the
       * page asks for /live?src=front-door and never learns the camera's
       * address or password.
       */
      src: string;
      url?: undefined;
    };

export interface PlayerTuning {
  /**
   * A viewer token from decoder (decoder token, POST /tokens), sent as
   * ?token= with each connection, for a viewer on another machine. Pages
   * decoder serves need none: opened with ?token=, they keep it in a cookie.
   */
  token?: string;
  /** decoder's address, e.g. http://127.0.0.1:3000; by default the address the module was loaded from. */
  server?: string;
  /** Seconds behind the newest buffered frame the player aims at (default 0.5); it speeds up when further behind. */
  targetLatency?: number;
  /** Seconds behind at which it jumps to the live edge instead of speeding up (default 3). */
  jumpLatency?: number;
  /** Seconds of played media kept behind the playhead; older media is removed (default 10). */
  keepBuffer?: number;
  /** Where a viewer of a running source begins: at once from the buffered keyframe (default), or at the next one. */
  start?: 'buffered' | 'next';
  /** RTSP transport of a url= source (default tcp). */
  transport?: 'tcp' | 'udp';
  /**
   * Codec families this browser plays (avc1, hvc1, mp4a, flac, opus):
   * decoder converts what is not listed. 'auto' (default) asks
   * isTypeSupported of MediaSource, or of ManagedMediaSource where that is
   * all there is; 'source' asks for the source as it is.
   */
  codecs?: string[] | 'auto' | 'source';
  /**
   * Largest picture height wanted: decoder scales a taller source down (a
   * wall of small tiles need not decode 4K sixteen times). Scaling takes one
   * of decoder's -max-transcodes; when none is left (close 4429, "too many
   * transcodes"), the player asks again at once without the height and
   * keeps to that, so that the source plays at its own size rather than
   * not at all. `player.height` is the height it asks for now.
   */
  height?: number;
  /** First reconnection wait in seconds (default 0.5). */
  retryMin?: number;
  /** Longest reconnection wait in seconds (default 10). */
  retryMax?: number;
}

/** A player's options: exactly one of url and src, and any tuning. */
export type PlayerOptions = PlayerSource & PlayerTuning;

/** The options a player plays with: those given, and defaults for the rest. */
export type PlayerSettings = PlayerOptions & {
  server: string;
  codecs: string[] | 'auto' | 'source';
  targetLatency: number;
  jumpLatency: number;
  keepBuffer: number;
  retryMin: number;
  retryMax: number;
};

export interface PlayerStats {
  state: PlayerState;
  /** Why the state is what it is, when known. */
  reason: string;
  /** The MIME type of the stream, with its codecs. */
  mime: string;
  /** Video codec string, e.g. avc1.4d401f. */
  codec: string;
  width: number;
  height: number;
  /** Frames per second received, over the last second. */
  fps: number;
  /** Bits per second received, over the last second. */
  bitrate: number;
  /** Seconds between the playhead and the newest frame. */
  latency: number;
  /** Messages decoder skipped for this viewer. */
  drops: number;
  /** Times the player reconnected. */
  reconnects: number;
  /** Bytes received in all. */
  bytes: number;
  /** Video frames received in all. */
  frames: number;
  /**
   * What plays the stream: MediaSource, or ManagedMediaSource where there
   * is no MediaSource (Safari on iPhone); empty before the first init.
   */
  mediaSource: 'MediaSource' | 'ManagedMediaSource' | '';
  /**
   * Whether media is appended as it comes: always with MediaSource; with
   * ManagedMediaSource, between the browser's startstreaming and
   * endstreaming (media waits in a bounded queue meanwhile).
   */
  streaming: boolean;
}

export interface TrackConversion {
  from: string;
  to: string;
  encoder: string;
}

/** decoder's init message: a stream, or a new format of it, begins. */
export interface InitMessage {
  type: 'init';
  /** For isTypeSupported and addSourceBuffer. */
  mime: string;
  video: { codec: string; format: string; width: number; height: number; fps?: number };
  audio?: { codec: string; format: string; sample_rate: number; channels: number };
  /** What decoder converts for this browser. */
  transcode?: { video?: TrackConversion; audio?: TrackConversion };
  /** Anything else to know, such as audio this browser cannot play. */
  note?: string;
}

export interface StateDetail {
  state: PlayerState;
  /** Why, when known: a reconnection's cause, an error in words. */
  reason: string;
}

/** decoder's word on the source. */
export interface StatusDetail {
  /** connecting, live (the camera sends pictures), reconnecting or ended. */
  state: string;
  reason: string;
}

/** The events of a DecoderPlayer, and of a <decoder-stream> element, which passes them on. */
export interface DecoderPlayerEventMap {
  /** The player's state changed. */
  state: CustomEvent<StateDetail>;
  /** A stream, or a new format of it, begins. */
  init: CustomEvent<InitMessage>;
  /** decoder's word on the source. */
  status: CustomEvent<StatusDetail>;
  /** Once a second: a copy of player.stats. */
  stats: CustomEvent<PlayerStats>;
}

/**
 * Plays one source in one <video> element and keeps it playing: it
 * reconnects by itself with backoff, follows the live edge, recovers from
 * stalls, and stops when destroy() is called or the element leaves the
 * document.
 */
export declare class DecoderPlayer extends EventTarget {
  constructor(video: HTMLVideoElement, options: PlayerOptions);
  /** The element it plays in. */
  readonly video: HTMLVideoElement;
  /** The options it plays with: those given, and defaults for the rest. */
  readonly options: PlayerSettings;
  /**
   * The families asked for with codecs 'auto': what the browser says it
   * plays, less any it turned out not to play at a stream's own profile.
   */
  readonly families: string[];
  /** The height asked for: options.height, or 0 once decoder had no transcode left to scale with. */
  readonly height: number;
  /** How it plays now; a copy comes with each 'stats' event. */
  readonly stats: PlayerStats;
  /** The /live address the player asks for now: the source, the token, and what this browser plays. */
  liveURL(): URL;
  /** Stops playing and releases the connection and the media buffers. */
  destroy(): void;
  addEventListener<K extends keyof DecoderPlayerEventMap>(type: K, listener: (this: DecoderPlayer, ev: DecoderPlayerEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof DecoderPlayerEventMap>(type: K, listener: (this: DecoderPlayer, ev: DecoderPlayerEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** The events of a <decoder-stream>: an element's, and its player's. */
export interface DecoderStreamEventMap extends HTMLElementEventMap, DecoderPlayerEventMap {}

/**
 * <decoder-stream>: a muted, autoplaying video of a stream, played by a
 * DecoderPlayer, defined by importing /decoder.js. Attributes (all live:
 * changing one plays the stream again with it):
 *
 * - src: a stream named in decoder's configuration; or
 * - url: a source URL, where decoder lets pages give URLs;
 * - token: a viewer token (PlayerOptions.token);
 * - server: decoder's address (default: where decoder.js came from);
 * - codecs: auto (default), source, or families separated by commas;
 * - height: the largest picture height to ask decoder for (it wins over
 *   wall-height);
 * - wall-height: a height for a tile of a wall: asked for while the
 *   element is shown no taller than that many CSS pixels, none (the
 *   source's own) once it is shown larger, as a tile made full screen;
 * - sound: play with sound, where the browser allows it without a click
 *   (with controls, a click on play does);
 * - controls: the video's own controls.
 *
 * It mirrors its player's state in its `state` attribute, shows the
 * reason while not live, and passes on the player's events. Removed from
 * the document, it releases its viewer at once.
 */
export declare class DecoderStream extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The player of the stream shown now; null while the element is not in the document or names no stream. */
  readonly player: DecoderPlayer | null;
  /** The video element it plays in, in its shadow root. */
  readonly video: HTMLVideoElement;
  addEventListener<K extends keyof DecoderStreamEventMap>(type: K, listener: (this: DecoderStream, ev: DecoderStreamEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof DecoderStreamEventMap>(type: K, listener: (this: DecoderStream, ev: DecoderStreamEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/**
 * The codec families this browser plays through Media Source Extensions
 * (MediaSource, else ManagedMediaSource): what codecs 'auto' asks for.
 */
export declare function supportedFamilies(): string[];

declare global {
  interface HTMLElementTagNameMap {
    'decoder-stream': DecoderStream;
  }
}
