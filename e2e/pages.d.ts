// What decoder's dashboard and the scenarios' own pages leave on window
// for the scenarios to look at, and what a scenario needs of a browser's
// page, whichever driver runs it: the types tsc checks the scenarios with.
import type { DecoderPlayer, InitMessage } from '../web/decoder.js';

/** A page of any of the drivers, as the shared helpers use it. */
export interface ScenarioPage {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}

/** A tile of the dashboard's wall. */
export interface WallTile {
  el: HTMLElement;
  player: DecoderPlayer | null;
  source: string;
  height: number;
  init: InitMessage | null;
}

/** A ManagedMediaSource a page made, and the streaming events the browser sent it. */
export interface ManagedSeen {
  source: MediaSource;
  start: number;
  end: number;
}

declare global {
  interface Window {
    /** The dashboard's wall (web/index.html). */
    decoderWall: {
      tiles: WallTile[];
      play(i: number, source: string): void;
      stop(i: number): void;
      setWall(n: number): void;
    };
    /** Where the scenarios' pages keep their player (embed.mjs). */
    player: DecoderPlayer;
    /** The events a <decoder-stream> of a scenario's page passed on, by type, in order. */
    events: string[];
    /** The URL of each WebSocket a page opened, where a scenario records them. */
    sockets: string[];
    /** Each ManagedMediaSource made in a page that plays as an iPhone (embed.mjs). */
    managedSources: ManagedSeen[];
    ManagedMediaSource?: typeof MediaSource;
  }
}
